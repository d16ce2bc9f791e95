"""Names the speed layer, the batch layer, the dashboard and the tools share (pure Python: the
dashboard imports it inside Airflow). SQL files, the dashboard's script and the shell scripts
cannot import it and spell the same names; tests/unit/test_names.py fails on a spelling not
declared here."""

from __future__ import annotations

# The speed layer's streaming query: its row in speed_layer_progress, its checkpoint folder.
SPEED_QUERY = "speed_layer"
# What a serving row totals, by the event field it is keyed on.
METRIC_TYPES: dict[str, str] = {
    "antenna": "antenna_bytes_total",
    "user": "user_bytes_total",
    "app": "app_bytes_total",
}
