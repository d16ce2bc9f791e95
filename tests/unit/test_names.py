"""telemetry/names.py owns the names the layers share. SQL files, the dashboard's script and the
shell scripts cannot import it and spell them: each spelling must be one names.py declares, so a
renamed metric type or query fails here instead of matching nothing at run time."""

from __future__ import annotations

import re
from pathlib import Path

from telemetry.names import METRIC_TYPES, SPEED_QUERY

REPO = Path(__file__).resolve().parents[2]
SPELLERS = ["sql/**/*.sql", "plugins/**/*.js", "plugins/**/*.py", "include/**/*.py"]
SPELLERS += ["include/scripts/*.sh", "dags/*.py", "spark_apps/**/*.py"]


def _files() -> list[Path]:
    found = {p for pattern in SPELLERS for p in REPO.glob(pattern)}
    return sorted(p for p in found if ".local" not in p.parts and p.name != "names.py")


def test_metric_types_spelled_anywhere_are_the_declared_ones():
    spelled: dict[str, set[str]] = {}
    for path in _files():
        for name in re.findall(r"\b(\w+_bytes_total\w*)\b", path.read_text()):
            spelled.setdefault(name, set()).add(str(path.relative_to(REPO)))
    unknown = {n: sorted(f) for n, f in spelled.items() if n not in METRIC_TYPES.values()}
    assert not unknown, f"metric types names.METRIC_TYPES does not declare: {unknown}"
    # The reconciliation covers every type: its list is the declaration's, in full.
    reconcile = (REPO / "sql" / "batch" / "reconcile.sql").read_text()
    listed = re.search(r"unnest\(ARRAY\[([^\]]*)\]\)", reconcile).group(1)
    assert re.findall(r"'(\w+)'", listed) == list(METRIC_TYPES.values())


def test_the_speed_query_is_named_as_declared():
    spelled = {}
    for path in _files():
        for name in re.findall(r"query_name\s*=\s*'(\w+)'", path.read_text()):
            spelled.setdefault(name, []).append(str(path.relative_to(REPO)))
    assert set(spelled) == {SPEED_QUERY}, spelled
    assert "sql/batch/interval_complete.sql" in spelled[SPEED_QUERY]
