-- The run of one sweep claim exists (dags/lambda_sweep.py: its trigger created it, or found it
-- created by an earlier try): the claim now holds until its retry time. A claim never confirmed
-- is claimed again by the next sweep (sweep_hours.sql, sweep_days.sql). Bind parameter: run_id.
UPDATE batch_requests SET triggered_at = now() WHERE run_id = %(run_id)s;
