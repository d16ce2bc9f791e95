-- Tasks that failed for good (include/lambda_notify.py writes one row per failure).
SELECT dag_id, task_id, count(*) AS failures
FROM batch_task_failures
GROUP BY dag_id, task_id
