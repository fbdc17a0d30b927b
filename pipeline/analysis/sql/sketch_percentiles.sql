-- Latency quantiles per service and period from the Flink job's latency sketch (PostgreSQL, through
-- Trino's catalog): the bucket counts of the period's minutes are summed, then walked in order; a
-- quantile q is the first bucket whose running count exceeds q * (count - 1) (the rank of the
-- q-quantile among the period's logs). The caller turns buckets into milliseconds
-- (pipeline/windows/sketch.py). :period_unit is 'minute' or 'hour', or 'range' for one period per
-- service starting at :start_ts. requests and status_5xx come from service_minute_stats.
WITH counts AS (
    SELECT service,
           CASE WHEN :period_unit = 'range' THEN CAST(:start_ts AS timestamp(3))
                ELSE date_trunc(:period_unit, window_start) END AS period,
           bucket,
           sum(count) AS n
    FROM postgresql.${pg_schema}.latency_sketch
    WHERE window_start >= CAST(:start_ts AS timestamp(3))
      AND window_start < CAST(:end_ts AS timestamp(3))
      AND (:all_services OR service IN :services)
    GROUP BY 1, 2, 3
), walked AS (
    SELECT service, period, bucket,
           sum(n) OVER (PARTITION BY service, period ORDER BY bucket ROWS UNBOUNDED PRECEDING) AS running,
           sum(n) OVER (PARTITION BY service, period) AS total
    FROM counts
), stats AS (
    SELECT service,
           CASE WHEN :period_unit = 'range' THEN CAST(:start_ts AS timestamp(3))
                ELSE date_trunc(:period_unit, window_start) END AS period,
           sum(requests) AS requests,
           sum(status_5xx) AS status_5xx
    FROM postgresql.${pg_schema}.service_minute_stats
    WHERE window_start >= CAST(:start_ts AS timestamp(3))
      AND window_start < CAST(:end_ts AS timestamp(3))
      AND (:all_services OR service IN :services)
    GROUP BY 1, 2
), quantiles AS (
    SELECT w.service, w.period, q.quantile, min(w.bucket) AS bucket
    FROM walked w
    CROSS JOIN UNNEST(:quantiles) AS q (quantile)
    WHERE w.running > q.quantile * (w.total - 1)
    GROUP BY 1, 2, 3
)
SELECT q.service, q.period, s.requests, s.status_5xx, q.quantile, q.bucket
FROM quantiles q
JOIN stats s ON s.service = q.service AND s.period = q.period
ORDER BY 1, 2, 5
