"""Storage locations as Spark and Hadoop take them: a URI (hdfs://nn:8020/raw, s3a://b/x,
file:///data) kept as given, a bare path made absolute. Never a pathlib.Path for a location,
which folds the double slash of hdfs:// and s3a://."""

from __future__ import annotations

import re
from pathlib import Path

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def storage_uri(value: str) -> str:
    value = value.strip()
    if _SCHEME.match(value):
        return value.rstrip("/") if not value.endswith(":///") else value
    return str(Path(value).resolve())


def uri_join(base: str, *parts: str) -> str:
    """``base`` / ``parts`` for a storage_uri (a URI's slashes stay as they are)."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def is_local(uri: str) -> bool:
    """A location on this machine's file system (a bare path or file:)."""
    return not _SCHEME.match(uri) or uri.startswith("file:")


def local_path(uri: str) -> Path:
    """The path of a local location (is_local): file:// or file: taken off."""
    return Path(uri.removeprefix("file://").removeprefix("file:"))
