"""An alert reaches a person: the speed layer stopped for real, Prometheus fires
LambdaSpeedLayerDown after its 2 minutes, Alertmanager routes it to the webhook
(LAMBDA_ALERT_WEBHOOK_URL, Alertmanager's JSON), and the resolved notice follows the restart."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from ..webhook import receiver
from .conftest import wait_until
from .test_metrics import service

pytestmark = pytest.mark.integration
DOWN = "LambdaSpeedLayerDown"


@pytest.fixture
def alerting(monkeypatch):
    """Alertmanager posting to a loopback webhook (1 s group wait, 5 s between a group's
    notices) and Prometheus scraping and evaluating every second; stopped after the test."""
    with receiver() as (url, posted):
        for name, value in {
            "LAMBDA_ALERT_WEBHOOK_URL": url,
            "LAMBDA_ALERT_GROUP_WAIT": "1s",
            "LAMBDA_ALERT_GROUP_INTERVAL": "5s",
            "LAMBDA_PROMETHEUS_SCRAPE_INTERVAL": "1s",
        }.items():
            monkeypatch.setenv(name, value)
        try:
            service("alertmanager.sh", "start")
            service("prometheus.sh", "start")
            yield posted
        finally:
            service("prometheus.sh", "stop")
            service("alertmanager.sh", "stop")


def notices(posted: list[dict], status: str) -> list[dict]:
    """The alerts named DOWN with ``status`` in the webhook bodies received so far."""
    return [
        alert
        for body in list(posted)
        for alert in body["alerts"]
        if alert["labels"]["alertname"] == DOWN and alert["status"] == status
    ]


@pytest.mark.fault  # over 2 minutes (the rule's `for`): make chaos runs it, not make test
def test_a_stopped_speed_layer_reaches_the_webhook_and_its_restart_resolves_it(
    speed_layer, alerting
):
    speed_layer.start()
    speed_layer.wait_for_log("batch 0:", timeout=120)  # scraped at least once: up == 1
    time.sleep(3)
    stopped = time.monotonic()
    assert speed_layer.stop() == 0
    wait_until(lambda: notices(alerting, "firing"), 240, f"{DOWN} at the webhook", poll=1)
    took = time.monotonic() - stopped
    print(f"\nspeed layer stopped -> {DOWN} at the webhook: {took:.0f} s", flush=True)
    assert took >= 120, "fired before the rule's 2 minutes"
    firing = notices(alerting, "firing")[0]
    assert firing["labels"]["severity"] == "page"
    assert firing["annotations"]["runbook_url"] == f"docs/runbooks.md#{DOWN.lower()}"
    body = next(b for b in alerting if firing in b["alerts"])
    assert body["receiver"] == "webhook" and body["groupLabels"] == {"alertname": DOWN}

    restarted = time.monotonic()
    speed_layer.start()
    wait_until(lambda: notices(alerting, "resolved"), 180, f"{DOWN} resolved", poll=1)
    print(f"restart -> resolved notice: {time.monotonic() - restarted:.0f} s", flush=True)


def test_the_cause_inhibits_its_consequences(alerting, settings):
    """Alerts posted to Alertmanager's API as Prometheus posts them: the speed layer down and,
    at the same time, its consequence (nothing committed): one page reaches the webhook, the
    other stays listed as inhibited."""
    api = f"http://{settings.metrics_host}:{settings.alertmanager_port}/api/v2/alerts"
    alerts = [
        {"labels": {"alertname": name, "severity": "page", "job": "speed_layer"}}
        for name in (DOWN, "LambdaSpeedLayerStale")
    ]
    request = urllib.request.Request(
        api, json.dumps(alerts).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()
    wait_until(lambda: notices(alerting, "firing"), 60, f"{DOWN} at the webhook", poll=0.5)
    time.sleep(6)  # a group interval: anything else would have been posted by now

    with urllib.request.urlopen(api, timeout=10) as response:
        listed = {a["labels"]["alertname"]: a["status"] for a in json.loads(response.read())}
    assert listed["LambdaSpeedLayerStale"]["state"] == "suppressed"
    assert listed["LambdaSpeedLayerStale"]["inhibitedBy"]
    posted = {a["labels"]["alertname"] for b in alerting for a in b["alerts"]}
    assert "LambdaSpeedLayerStale" not in posted and DOWN in posted
