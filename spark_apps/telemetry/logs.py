"""The Spark apps' log lines, through `logging`: progress as `[<app>] message` on stdout, warnings
as `[<app>] warning: message` and errors as `<app>: error: message` on stderr. Those are the
formats the supervisor (its last error line), the benchmark and the tests read."""

from __future__ import annotations

import logging
import sys


class _AppFormat(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)  # the message, with a traceback when one is attached
        if record.levelno >= logging.ERROR:
            return f"{record.name}: error: {text}"
        if record.levelno >= logging.WARNING:
            return f"[{record.name}] warning: {text}"
        return f"[{record.name}] {text}"


class _StdStream(logging.StreamHandler):
    """sys.stdout or sys.stderr as they are when a line is written (pytest's capture swaps them)."""

    def __init__(self, name: str) -> None:
        self._stream_name = name
        super().__init__()

    @property
    def stream(self):  # noqa: D102
        return getattr(sys, self._stream_name)

    @stream.setter
    def stream(self, _value) -> None:
        pass


class _Below(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


def get(app: str) -> logging.Logger:
    """The logger of one app (speed-layer, batch-hourly, ...), set up once per process."""
    logger = logging.getLogger(app)
    if not logger.handlers:
        out = _StdStream("stdout")
        out.addFilter(_Below(logging.WARNING))
        err = _StdStream("stderr")
        err.setLevel(logging.WARNING)
        for handler in (out, err):
            handler.setFormatter(_AppFormat())
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # Spark's and py4j's loggers keep their own ways
    return logger
