"""The Parquet retention's choice of days and its removal on a local folder (the Hadoop file
system API through a local SparkSession, as on HDFS or S3)."""

from __future__ import annotations

import datetime as dt

import pytest

from telemetry import raw_layout, raw_retention

D = dt.date


def test_only_published_settled_days_before_the_horizon_are_removed():
    present = [D(2026, 1, d) for d in range(1, 8)]
    published = {D(2026, 1, 1): False, D(2026, 1, 2): True, D(2026, 1, 4): False}
    published[D(2026, 1, 6)] = False  # published, but not before the horizon
    todo = raw_retention.plan(present, published, before=D(2026, 1, 5))
    assert todo.remove == [D(2026, 1, 1), D(2026, 1, 4)]
    assert todo.unpublished == [D(2026, 1, 3)]
    assert todo.stale == [D(2026, 1, 2)]


def test_nothing_to_do_without_old_days():
    assert raw_retention.plan([D(2026, 1, 9)], {}, before=D(2026, 1, 5)) == raw_retention.Plan()


def test_day_folders_round_trip_and_other_folders_are_ignored():
    root = "hdfs://nn:8020/lake/raw"
    folder = raw_layout.day_folder(root + "/", D(2026, 3, 7))
    assert folder == "hdfs://nn:8020/lake/raw/year=2026/month=3/day=7"
    assert raw_layout.hour_folder(root, dt.datetime(2026, 3, 7, 5)).startswith(folder + "/")
    assert raw_layout.folder_day(folder) == D(2026, 3, 7)
    assert raw_layout.folder_day(root + "/_staging/batch-1") is None
    assert raw_layout.folder_day(root + "/year=2026/month=2/day=30") is None


def touch_hour(root, hour: dt.datetime, files: int = 2) -> None:
    folder = root / f"year={hour.year}" / f"month={hour.month}" / f"day={hour.day}"
    folder = folder / f"hour={hour.hour}"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (folder / f"part-{i}.parquet").write_bytes(b"x" * 10)


def test_remove_day_deletes_the_whole_day_and_empty_parents(spark, tmp_path):
    for day, hour in ((1, 0), (1, 23), (2, 5)):
        touch_hour(tmp_path, dt.datetime(2026, 1, day, hour))
    touch_hour(tmp_path, dt.datetime(2025, 12, 31, 10), files=1)
    (tmp_path / "_staging" / "batch-7").mkdir(parents=True)
    root = str(tmp_path)
    assert raw_retention.dataset_days(spark, root) == [
        D(2025, 12, 31),
        D(2026, 1, 1),
        D(2026, 1, 2),
    ]

    assert raw_retention.remove_day(spark, root, D(2026, 1, 1)) == raw_retention.Removed(4, 40)
    assert raw_retention.dataset_days(spark, root) == [D(2025, 12, 31), D(2026, 1, 2)]
    assert raw_retention.remove_day(spark, root, D(2025, 12, 31)) == raw_retention.Removed(1, 10)
    assert not (tmp_path / "year=2025").exists()  # its only month and day went
    assert (tmp_path / "year=2026" / "month=1" / "day=2" / "hour=5").is_dir()
    assert (tmp_path / "_staging" / "batch-7").is_dir()
    assert raw_retention.remove_day(spark, root, D(2026, 1, 1)) == raw_retention.Removed(0, 0)


def test_recomputing_expired_hours_without_files_is_refused(spark, tmp_path, monkeypatch):
    from telemetry import batch_job, config

    monkeypatch.setenv("LAMBDA_RAW_DIR", str(tmp_path))
    settings = config.load()
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    old -= dt.timedelta(days=settings.retain_raw_days + 1)
    hour = dt.timedelta(hours=1)
    with pytest.raises(batch_job.ExpiredHoursError, match="LAMBDA_RETAIN_RAW_DAYS"):
        batch_job.refuse_expired(spark, settings, old, old + hour)
    touch_hour(tmp_path, old)  # history still there (a restored day): recomputed as ever
    batch_job.refuse_expired(spark, settings, old, old + hour)
    recent = old + dt.timedelta(days=settings.retain_raw_days)  # inside the horizon: never refused
    batch_job.refuse_expired(spark, settings, recent, recent + hour)
