-- Airflow tasks that failed for good (after their last retry), one row per try, written by the
-- failure notifier (include/lambda_notify.py) as the airflow role; the batch layer's exporter
-- counts them (lambda_batch_task_failures_total). A notifier called twice for the same try
-- (a callback re-run) inserts nothing the second time.
CREATE TABLE IF NOT EXISTS batch_task_failures (
    dag_id     TEXT NOT NULL,
    task_id    TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    try_number INTEGER NOT NULL,
    failed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    error      TEXT,  -- the exception as text, cut to 2000 characters
    PRIMARY KEY (dag_id, task_id, run_id, try_number)
);
CREATE INDEX IF NOT EXISTS batch_task_failures_failed_at ON batch_task_failures (failed_at);
