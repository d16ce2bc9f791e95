"""The speed layer: one streaming query whose micro-batches judge, land and sum their events on
Spark's executors (verdicts, seen_keys, summary), commit to PostgreSQL from the driver
(micro_batch) and report progress (progress). ``app`` starts it."""
