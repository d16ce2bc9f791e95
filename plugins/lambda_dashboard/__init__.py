"""The telemetry and Lambda-health dashboard: a read-only FastAPI app inside Airflow's
api-server (app.py), bounded SQL from sql/dashboard (queries.py), one page (static/)."""
