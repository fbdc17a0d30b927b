-- Per service and minute of [:start_ts, :end_ts): the window's requests and 5xx answers
-- (service_minute_stats) and, from its latency sketch, ${sketch_columns}: the whole sketch
-- (buckets, 'bucket:count' pairs) or the minute's p50/p95/p99 PostgreSQL computed from it (NULL
-- when the minute has no sketch). One row per service-minute, whatever the number of logs.
SELECT s.service, s.window_start AS minute, s.requests, s.status_5xx, ${sketch_columns}
FROM (
    SELECT service, window_start, requests, status_5xx
    FROM postgresql.${pg_schema}.service_minute_stats
    WHERE window_start >= CAST(:start_ts AS timestamp(3))
      AND window_start < CAST(:end_ts AS timestamp(3))
      AND (:all_services OR service IN :services)
) s
LEFT JOIN (
    SELECT *
    FROM postgresql.${pg_schema}.latency_sketch
    WHERE window_start >= CAST(:start_ts AS timestamp(3))
      AND window_start < CAST(:end_ts AS timestamp(3))
      AND (:all_services OR service IN :services)
) k ON k.service = s.service AND k.window_start = s.window_start
