"""The dashboard's JSON API, served by the real Airflow api-server (the plugin loaded from
plugins/), over known rows in the real PostgreSQL: exact figures, 4xx on bad parameters with a
message naming the parameter, 401 without the Airflow login, 200 with a token."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import pytest

from ..airflow_api import AirflowApi

HOUR = dt.timedelta(hours=1)
ANDRES_ID, ANDRES = "00000000-0000-0000-0000-000000000001", "andres@gmail.com"
ANTENNA_A = "00000000-0000-0000-0000-10000000000a"
ANTENNA_B = "00000000-0000-0000-0000-10000000000b"


@pytest.fixture(scope="module")
def day() -> dt.datetime:
    """A day nobody else's test touches (20 days ago)."""
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=20)


@pytest.fixture(scope="module")
def known_rows(pg, day):
    """10:00 published by the batch layer, 11:00 only in the speed layer's windows."""
    h10, h11 = day + 10 * HOUR, day + 11 * HOUR
    m = dt.timedelta(minutes=1)
    between = (day, day + dt.timedelta(days=1))
    for name, column in [
        ("bytes", "timestamp"),
        ("bytes_hourly", "timestamp"),
        ("serving_hours", "timestamp"),
        ("user_quota_limit", "timestamp"),
        ("reconciliation", "timestamp"),
        ("quarantine", "kafka_timestamp"),
        ("landed_hours", "timestamp"),
        ("batch_hourly_stats", "timestamp"),
    ]:
        pg.execute(f"DELETE FROM {name} WHERE {column} >= %s AND {column} < %s", between)
    # Both hours landed; 10:00 computed after its last landing, 11:00 never computed.
    landed, read = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    pg.execute(
        "INSERT INTO landed_hours VALUES (%s, 3, %s), (%s, 4, %s)", (h10, landed, h11, landed)
    )
    pg.execute(
        "INSERT INTO batch_hourly_stats (timestamp, events, duplicates, late_events, read_from)"
        " VALUES (%s, 3, 0, 1, %s)",
        (h10, read),
    )
    for ts, key, value, type_ in [
        (h11 + 5 * m, ANTENNA_A, 100, "antenna_bytes_total"),
        (h11 + 10 * m, ANTENNA_A, 50, "antenna_bytes_total"),
        (h11 + 5 * m, ANTENNA_B, 30, "antenna_bytes_total"),
        (h11 + 5 * m, ANDRES_ID, 300_000, "user_bytes_total"),
    ]:
        pg.execute("INSERT INTO bytes VALUES (%s, %s, %s, %s)", (ts, key, value, type_))
    for key, value, type_ in [
        (ANTENNA_A, 1000, "antenna_bytes_total"),
        (ANTENNA_B, 500, "antenna_bytes_total"),
        (ANDRES, 1500, "user_bytes_total"),
    ]:
        pg.execute("INSERT INTO bytes_hourly VALUES (%s, %s, %s, %s)", (h10, key, value, type_))
    pg.execute("INSERT INTO serving_hours (timestamp) VALUES (%s)", (h10,))
    pg.execute("INSERT INTO user_quota_limit VALUES (%s, 250000, 200000, %s)", (ANDRES, h10))
    pg.execute(
        "INSERT INTO reconciliation (timestamp, type, speed_total, batch_total, difference,"
        " late_events, quarantined_events, late_bytes, unseen_bytes, overcounted_bytes,"
        " unexplained) VALUES (%s, 'antenna_bytes_total', 1400, 1500, 100, 1, 2, 70, 40, 10, 0)",
        (h10,),
    )
    for ts, offset, reason, payload in [
        (h10 + 30 * m, 1, "not_json", b"<b>x</b>\x00\xff"),
        (h10 + 30 * m, 2, "not_json", b"{"),
        (h11 + 15 * m, 3, "empty_payload", b""),
    ]:
        pg.execute(
            "INSERT INTO quarantine (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp,"
            " reason, payload, payload_length) VALUES ('api-test', 0, %s, %s, %s, %s, %s)",
            (offset, ts, reason, payload, len(payload)),
        )
    return h10, h11


def utc(moment: dt.datetime) -> str:
    return moment.isoformat() + "Z"


@pytest.fixture(scope="module")
def token(settings) -> str:
    return AirflowApi(settings).token


@pytest.fixture(scope="module")
def analyst_token(settings) -> str:
    """A viewer: the dashboard, not device data."""
    return AirflowApi(settings, user="analyst").token


def get(settings, path: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{settings.airflow_port}/telemetry{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
            kind = response.headers.get("Content-Type", "")
            return response.status, json.loads(body) if "json" in kind else {"text": body}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def range_of(day: dt.datetime) -> str:
    return f"hours=2&end={(day + 12 * HOUR).isoformat()}"


def test_traffic_serves_batch_hours_then_speed_hours_and_the_last_hours_windows(
    settings, token, known_rows, day
):
    h10, h11 = known_rows
    status, body = get(settings, f"/api/traffic/antenna?{range_of(day)}", token)
    assert status == 200, body
    assert (body["start"], body["end"], body["windows_hour"]) == (
        utc(h10),
        utc(h11 + HOUR),
        utc(h11),
    )
    assert body["hourly"] == [
        {"timestamp": utc(h10), "id": ANTENNA_A, "value": 1000, "source": "batch"},
        {"timestamp": utc(h10), "id": ANTENNA_B, "value": 500, "source": "batch"},
        {"timestamp": utc(h11), "id": ANTENNA_A, "value": 150, "source": "speed"},
        {"timestamp": utc(h11), "id": ANTENNA_B, "value": 30, "source": "speed"},
    ]
    five = dt.timedelta(minutes=5)
    assert body["windows"] == [
        {"timestamp": utc(h11 + five), "id": ANTENNA_A, "value": 100},
        {"timestamp": utc(h11 + five), "id": ANTENNA_B, "value": 30},
        {"timestamp": utc(h11 + 2 * five), "id": ANTENNA_A, "value": 50},
    ]
    # Top N by bytes in the range, and one key.
    _, top = get(settings, f"/api/traffic/antenna?{range_of(day)}&top=1", token)
    assert {r["id"] for r in top["hourly"] + top["windows"]} == {ANTENNA_A}
    _, only_b = get(settings, f"/api/traffic/antenna?{range_of(day)}&key={ANTENNA_B}", token)
    assert [r["value"] for r in only_b["hourly"]] == [500, 30]
    # Users by email in both layers.
    _, users = get(settings, f"/api/traffic/user?{range_of(day)}", token)
    assert [(r["id"], r["value"], r["source"]) for r in users["hourly"]] == [
        (ANDRES, 1500, "batch"),
        (ANDRES, 300_000, "speed"),
    ]
    assert [r["id"] for r in users["windows"]] == [ANDRES]


def test_quota_confirmed_by_the_batch_and_the_live_early_warning(settings, token, known_rows, day):
    h10, h11 = known_rows
    status, body = get(settings, f"/api/quota?{range_of(day)}", token)
    assert status == 200, body
    assert body["confirmed"] == [
        {"timestamp": utc(h10), "email": ANDRES, "usage": 250_000, "quota": 200_000}
    ]
    assert body["early_warning"] == [
        {"timestamp": utc(h11), "email": ANDRES, "usage": 300_000, "quota": 200_000}
    ]


def test_health_reconciliation_quarantine_and_freshness(settings, token, known_rows, day, pg):
    h10, h11 = known_rows
    status, body = get(settings, f"/api/health?{range_of(day)}", token)
    assert status == 200, body
    assert body["reconciliation"] == [
        {
            "timestamp": utc(h10),
            "type": "antenna_bytes_total",
            "speed_total": 1400,
            "batch_total": 1500,
            "difference": 100,
            "late_bytes": 70,
            "unseen_bytes": 40,
            "overcounted_bytes": 10,
            "unexplained": 0,
            "late_events": 1,
            "quarantined_events": 2,
        }
    ]
    assert body["quarantine_by_reason"] == [
        {"timestamp": utc(h10), "reason": "not_json", "records": 2},
        {"timestamp": utc(h11), "reason": "empty_payload", "records": 1},
    ]
    latest = [
        (r["kafka_offset"], r["payload"], r["payload_length"]) for r in body["quarantine_latest"]
    ]
    assert latest == [(3, "", 0), (2, "{", 1), (1, "<b>x</b>\\x00\\xff", 10)]
    latest_window, published = pg.execute(
        "SELECT (SELECT max(timestamp) FROM bytes), (SELECT max(timestamp) FROM serving_hours)"
    ).fetchone()
    assert body["hours_not_exact"] == [
        {
            "timestamp": utc(h11),
            "reason": "not computed",
            "events_landed": 4,
            "landed_at": "2026-01-01T00:00:00Z",
            "read_from": None,
        }
    ]
    assert "offsets_behind" in body["speed"]
    assert body["speed"]["latest_window"] == utc(latest_window)
    assert body["batch"]["hour"] == utc(published)
    _, one = get(settings, f"/api/health?{range_of(day)}&latest=1", token)
    assert [r["kafka_offset"] for r in one["quarantine_latest"]] == [3]
    assert body["quarantine_payloads"] == "shown"


def test_quarantined_payloads_only_for_users_allowed_to_see_device_data(
    settings, token, analyst_token, known_rows, day
):
    status, viewer = get(settings, f"/api/health?{range_of(day)}", analyst_token)
    assert status == 200
    assert viewer["quarantine_payloads"] == "hidden"
    assert [(r["kafka_offset"], r["payload_length"]) for r in viewer["quarantine_latest"]] == [
        (3, 0),
        (2, 1),
        (1, 10),
    ]
    assert all("payload" not in r for r in viewer["quarantine_latest"])
    # Everything else is the same as the admin's.
    _, admin = get(settings, f"/api/health?{range_of(day)}", token)
    for part in ("quarantine_by_reason", "reconciliation", "hours_not_exact"):
        assert viewer[part] == admin[part]


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/health?hours=0", "hours"),
        ("/api/quota?hours=1000", "hours"),
        ("/api/health?end=yesterday", "end"),
        ("/api/traffic/tower", "dimension"),
        ("/api/traffic/app?top=0", "top"),
        ("/api/traffic/app?key=%01", "key"),
        ("/api/health?latest=51", "latest"),
    ],
)
def test_bad_parameters_get_a_4xx_naming_the_parameter(settings, token, path, parameter):
    status, body = get(settings, path, token)
    assert status == 422
    assert [e["loc"][-1] for e in body["detail"]] == [parameter]
    assert all(e["msg"] for e in body["detail"])


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/static/dashboard.js",
        "/static/echarts.min.js",
        "/api/health",
        "/api/quota",
        "/api/traffic/app",
        "/api/openapi.json",
    ],
)
def test_every_route_needs_the_airflow_login(settings, token, path):
    assert get(settings, path)[0] == 401
    assert get(settings, path, "not-a-token")[0] == 403  # Airflow's answer to a forged token
    assert get(settings, path, token)[0] == 200


def test_openapi_describes_the_json_api(settings, token):
    _, spec = get(settings, "/api/openapi.json", token)
    assert set(spec["paths"]) == {"/api/traffic/{dimension}", "/api/quota", "/api/health"}
