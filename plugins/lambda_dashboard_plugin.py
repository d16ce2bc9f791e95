"""Registers the telemetry dashboard with Airflow 3: its FastAPI app under /telemetry (every
route behind the Airflow login) and a nav entry that shows the page inside the Airflow UI."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from lambda_dashboard.app import URL_PREFIX, create_app


class TelemetryDashboardPlugin(AirflowPlugin):
    name = "telemetry_dashboard"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Telemetry dashboard"}]
    external_views = [
        {
            "name": "Telemetry",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "telemetry",
            "category": "browse",
        }
    ]
