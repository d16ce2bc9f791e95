"""The alert rules, their runbooks and Alertmanager's routes name the same alerts: a rule without
its runbook section, or an inhibition naming an alert that no longer exists, fails here."""

from __future__ import annotations

import re

from telemetry import config

REPO = config.REPO_ROOT
RULES = (REPO / "include" / "prometheus" / "rules" / "lambda.yml").read_text()
RUNBOOKS = (REPO / "docs" / "runbooks.md").read_text()
ROUTES = (REPO / "include" / "alertmanager" / "alertmanager.yml").read_text()


def alerts() -> list[str]:
    return re.findall(r"^\s+- alert: (\w+)$", RULES, re.M)


def test_every_rule_points_at_its_own_runbook_section():
    names = alerts()
    assert len(names) == len(set(names)) >= 13
    urls = re.findall(r"^\s+runbook_url: \"(.*)\"$", RULES, re.M)
    assert urls == [f"docs/runbooks.md#{name.lower()}" for name in names]
    sections = re.findall(r"^## (\w+)$", RUNBOOKS, re.M)
    assert sections == names, "docs/runbooks.md: one section per rule, in the rules' order"
    for section in re.split(r"\n(?=## )", RUNBOOKS)[1:]:
        assert "**What it means:**" in section and "**What to do:**" in section, section[:60]


def test_routes_and_inhibitions_name_existing_alerts_and_severities():
    names = set(alerts())
    named = set()
    for pattern in re.findall(r'alertname=~?"([^"]+)"', ROUTES):
        named |= {n for n in names if re.fullmatch(pattern, n)}
        assert any(re.fullmatch(pattern, n) for n in names), f"{pattern} matches no rule"
    assert "LambdaSpeedLayerDown" in named
    severities = set(re.findall(r"^\s+severity: (\w+)$", RULES, re.M))
    assert severities == set(re.findall(r'severity="(\w+)"', ROUTES)) == {"page", "ticket"}
