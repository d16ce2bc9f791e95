-- Airflow's metadata database: the batch DAGs' last finished run each, its duration and state.
SELECT DISTINCT ON (dag_id)
    dag_id, state, extract(epoch FROM end_date - start_date) AS seconds
FROM dag_run
WHERE dag_id = ANY(%(dag_ids)s) AND end_date IS NOT NULL AND start_date IS NOT NULL
ORDER BY dag_id, end_date DESC
