-- Per-service, per-minute trends from the Flink job's tables in PostgreSQL (via Trino's catalog).
-- Every minute of service_minute_stats in [:start_ts, :end_ts), with the error_summary row of the
-- same window when there is one (total_errors, error_avg_latency = mean latency of the 5xx answers).
SELECT s.service,
       s.window_start,
       s.requests,
       s.status_4xx,
       s.status_5xx,
       s.error_rate,
       s.avg_latency,
       s.max_latency,
       COALESCE(e.total_errors, 0) AS total_errors,
       e.avg_latency AS error_avg_latency
FROM postgresql.${pg_schema}.service_minute_stats s
LEFT JOIN postgresql.${pg_schema}.error_summary e
       ON e.service = s.service AND e.window_start = s.window_start
WHERE s.window_start >= CAST(:start_ts AS timestamp(3))
  AND s.window_start < CAST(:end_ts AS timestamp(3))
  AND (:all_services OR s.service IN :services)
ORDER BY s.service, s.window_start
