"""The dashboard's FastAPI app, mounted by Airflow's api-server under URL_PREFIX.

Plugin routes are not behind Airflow's login by default: the app-wide dependency below makes
every route, the page and its scripts included, require an Airflow user (the UI's session
cookie or a bearer token from POST /auth/token); anonymous requests get 401. The OpenAPI
description is served behind the same login at /api/openapi.json.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_view
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, JSONResponse

from telemetry.names import METRIC_TYPES, SPEED_QUERY

from . import queries

URL_PREFIX = "/telemetry"
STATIC = Path(__file__).resolve().parent / "static"
MAX_HOURS = 168  # a week of hours: every query is bounded by its time range and a row limit


# Keys are antenna ids, app names or emails: printable text, bounded.
KEY_PATTERN = r"^[^\x00-\x1f\x7f]{1,200}$"

Hours = Annotated[int, Query(ge=1, le=MAX_HOURS, description="hours in the range, up to a week")]
End = Annotated[
    dt.datetime | None,
    Query(
        description="the range's end (exclusive), ISO 8601, cut to the hour; default: the end "
        "of the current hour. Without an offset it is UTC."
    ),
]
Top = Annotated[int, Query(ge=1, le=50, description="how many keys, by bytes in the range")]
Key = Annotated[
    str | None,
    Query(pattern=KEY_PATTERN, description="only this key (antenna id, app name or email)"),
]
MaxRows = Annotated[int, Query(ge=1, le=500, description="row limit")]
Latest = Annotated[int, Query(ge=1, le=50, description="how many latest quarantined records")]


def time_range(hours: int, end: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in naive UTC (the tables' TIMESTAMP columns), on whole hours."""
    if end is None:
        end = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    elif end.tzinfo is None:
        end = end.replace(tzinfo=dt.UTC)
    end = end.astimezone(dt.UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    return end - dt.timedelta(hours=hours), end


def iso(moment: dt.datetime) -> str:
    return moment.isoformat() + "Z"


def may_see_payloads(user) -> bool:
    """Quarantined payloads are device data: shown to users Airflow lets read connections
    (secrets), its closest permission (simple auth manager: op and admin; FAB: "can read on
    Connections"); others see where and why a record was rejected, not its bytes."""
    return get_auth_manager().is_authorized_connection(method="GET", user=user)


def create_app() -> FastAPI:
    app = FastAPI(
        title="Telemetry dashboard",
        summary="Traffic, quota and Lambda health from the serving tables (read-only role).",
        dependencies=[Depends(requires_access_view(AccessView.WEBSITE))],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.exception_handler(queries.DatabaseUnavailableError)
    def database_unavailable(_request, exc: queries.DatabaseUnavailableError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: Literal["dashboard.js", "dashboard.css", "echarts.min.js"]) -> FileResponse:
        if name == "echarts.min.js":
            path = queries.settings().tools_dir / "npm/node_modules/echarts/dist/echarts.min.js"
            if not path.is_file():
                raise HTTPException(
                    503,
                    f"the chart library is not installed ({path}): run include/scripts/setup.sh",
                )
            return FileResponse(path)
        return FileResponse(STATIC / name)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/api/traffic/{dimension}")
    def traffic(
        dimension: Literal["antenna", "app", "user"],
        hours: Hours = 24,
        end: End = None,
        top: Top = 10,
        key: Key = None,
    ) -> dict[str, Any]:
        """Bytes per hour of the top keys of one dimension as served (`source`: batch where the
        hour is published, speed otherwise), and the speed layer's 5-minute windows of the
        range's last hour."""
        start, stop = time_range(hours, end)
        last_hour = stop - dt.timedelta(hours=1)
        params = {"type": METRIC_TYPES[dimension], "key": key, "top_n": top}
        with queries.reader() as conn:
            hourly = queries.rows(conn, "traffic_hourly", start=start, end=stop, **params)
            windows = queries.rows(conn, "traffic_windows", start=last_hour, end=stop, **params)
        return {
            "dimension": dimension,
            "start": iso(start),
            "end": iso(stop),
            "hourly": hourly,
            "windows_hour": iso(last_hour),
            "windows": windows,
        }

    @app.get("/api/quota")
    def quota(hours: Hours = 24, end: End = None, max_rows: MaxRows = 200) -> dict[str, Any]:
        """Users over their hourly quota: `confirmed` by the batch layer (user_quota_limit) and
        the live `early_warning` from the speed layer's figures for hours not yet published."""
        start, stop = time_range(hours, end)
        window = {"start": start, "end": stop, "max_rows": max_rows}
        with queries.reader() as conn:
            confirmed = queries.rows(conn, "quota_confirmed", **window)
            warning = queries.rows(conn, "quota_warning", **window)
        return {
            "start": iso(start),
            "end": iso(stop),
            "confirmed": confirmed,
            "early_warning": warning,
        }

    @app.get("/api/health")
    def health(
        user: GetUserDep, hours: Hours = 24, end: End = None, latest: Latest = 10
    ) -> dict[str, Any]:
        """Lambda health: the speed layer's freshness, the batch layer's last published hour,
        the hours not exact yet (hours_not_exact), reconciliation per hour and type with the
        difference's causes, quarantined records per hour and reason, and the latest
        quarantined records, with their payloads (escaped text) for users allowed to see
        device data (`quarantine_payloads`: shown or hidden)."""
        start, stop = time_range(hours, end)
        window = {"start": start, "end": stop}
        shown = may_see_payloads(user)
        latest_sql = "quarantine_latest" if shown else "quarantine_latest_hidden"
        with queries.reader() as conn:
            speed = queries.rows(conn, "speed_freshness", query_name=SPEED_QUERY)[0]
            published = queries.rows(conn, "batch_published")
            not_exact = queries.rows(conn, "hours_not_exact", **window)
            reconciliation = queries.rows(conn, "reconciliation", **window)
            by_reason = queries.rows(conn, "quarantine_by_reason", **window)
            latest_rows = queries.rows(conn, latest_sql, **window, max_rows=latest)
        return {
            "start": iso(start),
            "end": iso(stop),
            "speed": speed,
            "batch": published[0] if published else None,
            "hours_not_exact": not_exact,
            "reconciliation": reconciliation,
            "quarantine_by_reason": by_reason,
            "quarantine_latest": latest_rows,
            "quarantine_payloads": "shown" if shown else "hidden",
        }

    return app
