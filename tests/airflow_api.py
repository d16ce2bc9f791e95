"""The Airflow REST calls the UI makes, as the admin user (tests and the chaos run)."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.parse
import urllib.request


class AirflowApi:
    """The REST calls the UI makes, as the admin user."""

    @classmethod
    def when_up(cls, settings, timeout: float) -> AirflowApi:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return cls(settings)
            except OSError:  # refused or reset while the api-server restarts
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)

    def __init__(self, settings, user: str = "admin") -> None:
        self.base = f"http://127.0.0.1:{settings.airflow_port}"
        self.token: str | None = None  # set by the login below; every later call carries it
        password = (settings.home / "secrets" / f"airflow_{user}_password").read_text().strip()
        token = self._call("POST", "/auth/token", {"username": user, "password": password})
        self.token = token["access_token"]

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def backfill(self, dag_id: str, first: dt.datetime, last: dt.datetime) -> None:
        """What the UI's backfill dialog asks for (POST /api/v2/backfills)."""
        self._call(
            "POST",
            "/api/v2/backfills",
            {
                "dag_id": dag_id,
                "from_date": f"{first.isoformat()}Z",
                "to_date": f"{last.isoformat()}Z",
                "reprocess_behavior": "completed",
                "max_active_runs": 3,
            },
        )

    def trigger(
        self,
        dag_id: str,
        run_id: str,
        start: dt.datetime,
        end: dt.datetime,
        logical: dt.datetime | None = None,
    ) -> None:
        """A run of the data interval [start, end) for the scheduler to run, as the schedule
        would make it at ``end`` (naive UTC); ``logical``: its logical date (unique per DAG),
        a moment after ``end`` for a rerun beside a scheduled run (as the sweep makes them)."""
        logical = logical or end
        self._call(
            "POST",
            f"/api/v2/dags/{dag_id}/dagRuns",
            {
                "dag_run_id": run_id,
                "logical_date": f"{logical.isoformat()}Z",
                "run_after": f"{logical.isoformat()}Z",
                "data_interval_start": f"{start.isoformat()}Z",
                "data_interval_end": f"{end.isoformat()}Z",
            },
        )

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}")[
            "state"
        ]

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def runs(self, dag_id: str, first: dt.datetime, last: dt.datetime) -> list[dict]:
        query = urllib.parse.urlencode(
            {
                "logical_date_gte": f"{first.isoformat()}Z",
                "logical_date_lte": f"{last.isoformat()}Z",
            }
        )
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns?{query}")["dag_runs"]

    def tries(self, dag_id: str, run_id: str) -> dict[str, tuple[str, int]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances"
        found = self._call("GET", path)["task_instances"]
        return {t["task_id"]: (t["state"], t["try_number"]) for t in found}

    def wait_runs(self, dag_id: str, first: dt.datetime, last: dt.datetime, n: int) -> list[dict]:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            runs = self.runs(dag_id, first, last)
            states = [r["state"] for r in runs]
            assert "failed" not in states, f"{dag_id} run failed: {runs}"
            if len(runs) == n and set(states) == {"success"}:
                return runs
            time.sleep(3)
        raise AssertionError(f"{dag_id} runs {first}..{last} did not finish")
