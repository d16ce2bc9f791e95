"""The speed layer's ``foreachBatch``: each Kafka record read and parsed once, then

1. the valid events judged (verdicts) against the duplicate state on the executors (seen_keys),
   checkpointed there, and the batch summarized in one job: the window-sum deltas staged in
   PostgreSQL by the executors, the other aggregates collected (summary);
2. landed in Parquet with their verdicts (raw_store; a replay replaces its own files);
3. the quarantine staged by the executors, then the staged rows moved in, the applied offsets
   and the watermark written to PostgreSQL in one transaction;
4. the next duplicate state: a filter of the checkpointed batch (no job of its own).

The PostgreSQL transaction is the commit point: a crash before it replays the batch with the same
verdicts (state rebuilt from PostgreSQL and the landed Parquet) under a new staging token, a
crash after it skips the records already applied. The driver holds scalars (watermark, offsets)
and aggregates only: no row per device or per record reaches it.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from telemetry import config, logs, pg_stage, postgres, raw_store, transforms
from telemetry.hours import utc
from telemetry.schema import QUARANTINE_COLUMNS, WINDOW_TOTAL_COLUMNS
from telemetry.speed import commit, verdicts
from telemetry.speed.metrics import SpeedMetrics
from telemetry.speed.seen_keys import SeenKeys, release, state_was_lost
from telemetry.speed.summary import BatchSummary, stage_windows, summarize

log = logs.get("speed-layer")


def _rss_mib() -> int:
    """This (Python driver) process's resident memory now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 2**20


class MicroBatchWriter:
    def __init__(
        self, spark: SparkSession, settings: config.Settings, metrics: SpeedMetrics | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.writer = commit.SpeedWriter(settings)
        offsets, max_event_time = postgres.with_retry(
            settings, "load speed state", lambda: self.writer.load(settings.kafka_topic)
        )
        self.applied: dict[int, int] = dict(offsets)
        self.max_event_time = (  # PostgreSQL's TIMESTAMP: naive UTC
            None
            if max_event_time is None
            else int(max_event_time.replace(tzinfo=dt.UTC).timestamp())
        )
        self.seen = SeenKeys(spark, settings.raw_dir)
        self._rebuild_state()

    @property
    def watermark(self) -> int | None:
        """Events before this (epoch seconds) are late; None until the first event."""
        if self.max_event_time is None:
            return None
        return self.max_event_time - self.settings.watermark_seconds

    def _rebuild_state(self) -> None:
        kept = self.seen.rebuild(self.watermark, self.max_event_time, self.applied)
        log.info(
            f"state: watermark {utc(self.watermark)}, offsets {self.applied}, "
            f"{kept} counted keys kept (rebuilt from the landed Parquet)"
        )

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            line = self._write(batch, batch_id)
        except postgres.StagedRowsError as exc:
            log.info(f"batch {batch_id}: {exc}; staging it again")
            line = self._write(batch, batch_id)
        except Exception as exc:
            if not state_was_lost(exc):
                raise
            log.info(
                f"batch {batch_id}: duplicate state lost with an executor; "
                "rebuilding it and redoing the batch"
            )
            self._rebuild_state()
            line = self._write(batch, batch_id)
        if line:
            log.info(
                f"batch {batch_id} applied: {line}; driver cpu "
                f"{time.process_time() - cpu:.3f} s, rss {_rss_mib()} MiB "
                f"(wall {time.perf_counter() - started:.2f} s)"
            )

    def _judged(self, batch: DataFrame) -> DataFrame:
        """The batch's records not yet applied, judged, with the state's rows: checkpointed on
        the executors by the first job that computes it, so Kafka is read and parsed once and
        every later step (and the next batch's state) reads the blocks."""
        return (
            batch.where(~verdicts.at_or_below(self.applied))
            .transform(verdicts.judge(self.seen.frame, self.watermark))
            .localCheckpoint(eager=False)
        )

    def _write(self, batch: DataFrame, batch_id: int) -> str | None:
        settings, started = self.settings, time.perf_counter()
        steps: dict[str, float] = {}

        def step(name: str) -> None:
            steps[name] = time.perf_counter() - started - sum(steps.values())

        watermark, token = self.watermark, pg_stage.new_token()
        judged = self._judged(batch)
        step("plan")
        keep = False  # the checkpoint becomes the next state's source once committed
        try:
            records = judged.where(~F.col("_state"))
            windows = pg_stage.Target.of(settings, "bytes", WINDOW_TOTAL_COLUMNS)
            summary = BatchSummary.of(
                records.transform(summarize(settings.window_seconds))
                .transform(stage_windows(windows, token))
                .collect()
            )
            step("judge")
            if summary.records == 0:
                return None
            events = judged.transform(verdicts.batch_events).transform(transforms.with_event_time)
            raw_store.land_batch(events, settings.raw_dir, batch_id, summary.ranges)
            step("land")
            bounded = [t for t in (summary.max_bounded_time, self.max_event_time) if t]
            max_event_time = max(bounded) if bounded else None
            rejected = transforms.rejected_events(records)
            self._commit(rejected, batch_id, token, summary, max_event_time, started)
            step("postgres")
            if self.metrics is not None:
                self.metrics.batch_committed(summary, time.perf_counter() - started, self.watermark)
            self.seen.replace(
                judged.transform(verdicts.kept_keys(self.watermark)), materialized=judged
            )
            keep = True
            state = self.seen.cached_bytes()
            if self.metrics is not None:
                self.metrics.state(state)
        finally:
            if not keep:
                release(judged)
        return (
            f"{summary.line()}, watermark {utc(watermark)}, state {state / 2**20:.1f} MiB, "
            f"{time.perf_counter() - started:.2f} s ("
            + ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
            + ")"
        )

    def _commit(
        self,
        rejected: DataFrame,
        batch_id: int,
        token: str,
        summary: BatchSummary,
        max_event_time: int | None,
        started: float,
    ) -> None:
        settings = self.settings
        offsets_after = {p: hi for p, (_, hi) in summary.ranges.items()}
        seconds = time.perf_counter() - started
        staged_rejects = 0
        if summary.rejected:
            rejected = rejected.withColumn(
                "kafka_timestamp", transforms.utc_wallclock("kafka_timestamp")
            )
            target = pg_stage.Target.of(settings, "quarantine", QUARANTINE_COLUMNS)
            staged_rejects = pg_stage.total(pg_stage.stage(rejected, target, token))
            if staged_rejects != summary.rejected:
                raise postgres.StagedRowsError(
                    f"{staged_rejects} quarantine rows staged, {summary.rejected} rejected"
                )
        work = commit.SpeedBatch(
            topic=settings.kafka_topic,
            batch_id=batch_id,
            token=token,
            staged={"bytes": summary.staged_windows, "quarantine": staged_rejects},
            offsets_before=dict(self.applied),
            offsets_after=offsets_after,
            last_record_times={p: utc(t) for p, t in summary.last_record_times.items()},
            landed_hours=summary.landed_hours,
            watermark=utc(
                None if max_event_time is None else max_event_time - settings.watermark_seconds
            ),
            max_event_time=utc(max_event_time),
            input_rows=summary.records,
            rows_per_second=summary.records / seconds if seconds > 0 else 0.0,
        )
        postgres.with_retry(
            settings, f"speed layer batch {batch_id}", lambda: self.writer.apply(work)
        )
        for p, o in offsets_after.items():
            self.applied[p] = max(o, self.applied.get(p, -1))
        self.max_event_time = max_event_time
