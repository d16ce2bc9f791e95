"""What the simulator sent: one record per message, to compare the pipeline's tables with (the
tests, the chaos run and `python -m simulator --truth FILE`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from simulator.events import KINDS, Event, Message


class GroundTruth:
    """What was sent: one record per message, counts per kind, and the events it carried."""

    def __init__(self) -> None:
        self.records: list[Message] = []
        self.counts: dict[str, int] = dict.fromkeys(KINDS, 0)

    def add(self, message: Message) -> None:
        self.records.append(message)
        self.counts[message.kind] += 1

    def __len__(self) -> int:
        return len(self.records)

    def events(self, include_duplicates: bool = False) -> list[Event]:
        """The events carried by valid and late messages (and duplicates, if asked)."""
        wanted = {"valid", "late", "duplicate"} if include_duplicates else {"valid", "late"}
        return [Event.from_json(m.payload) for m in self.records if m.kind in wanted]

    def marked_events(self) -> list[tuple[Event, bool]]:
        """(event, is_duplicate) for every valid, late and duplicate message, in send order."""
        return [
            (Event.from_json(m.payload), m.kind == "duplicate")
            for m in self.records
            if m.kind != "malformed"
        ]

    def write(self, path: str | Path) -> None:
        """JSON lines, one per message: {"kind", "reason", "payload" (text), "key" (text)}."""
        with open(path, "w", encoding="utf-8") as out:
            self.write_to(out)

    def write_to(self, out: IO[str]) -> None:
        dumps = json.dumps
        for m in self.records:
            row = {"kind": m.kind, "reason": m.reason, "payload": m.payload.decode()}
            if m.key is not None:
                row["key"] = m.key.decode()
            out.write(dumps(row) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> GroundTruth:
        truth = cls()
        with open(path, encoding="utf-8") as src:
            for line in src:
                if not line.strip():
                    continue
                row = json.loads(line)
                key = row.get("key")
                truth.add(
                    Message(
                        row["payload"].encode(),
                        None if key is None else key.encode(),
                        row["kind"],
                        row.get("reason"),
                    )
                )
        return truth
