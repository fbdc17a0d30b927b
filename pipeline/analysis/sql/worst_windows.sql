-- The worst windows of error_summary in [:start_ts, :end_ts): most 5xx answers first.
SELECT service, window_start, total_errors, avg_latency
FROM postgresql.${pg_schema}.error_summary
WHERE window_start >= CAST(:start_ts AS timestamp(3))
  AND window_start < CAST(:end_ts AS timestamp(3))
  AND (:all_services OR service IN :services)
ORDER BY total_errors DESC, avg_latency DESC, service, window_start
LIMIT :top
