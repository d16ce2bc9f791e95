-- Is the data interval complete enough to compute? True once the speed layer's watermark has
-- passed the interval's end plus a grace period, or, when the speed layer is idle or down
-- (its watermark only moves with new data), once the interval ended long enough ago.
SELECT
    coalesce(
        (SELECT max(watermark) FROM speed_layer_progress WHERE query_name = 'window_totals'),
        'epoch'::timestamp
    ) >= TIMESTAMP '{{ data_interval_end.strftime("%Y-%m-%d %H:%M:%S") }}'
         + make_interval(secs => {{ params.grace_seconds }})
    OR (now() AT TIME ZONE 'UTC') >= TIMESTAMP '{{ data_interval_end.strftime("%Y-%m-%d %H:%M:%S") }}'
         + make_interval(secs => {{ params.max_wait_seconds }});
