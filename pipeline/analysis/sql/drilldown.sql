-- Federated drill-down, one query over both catalogs: the :top worst windows of error_summary
-- (PostgreSQL) joined with the raw logs behind them (MongoDB). ${raw_logs} holds only the
-- collections covering those windows, and [:lo_ts, :hi_ts) (their span) is pushed down to MongoDB.
WITH worst AS (
    SELECT service, window_start, total_errors, avg_latency,
           row_number() OVER (ORDER BY total_errors DESC, avg_latency DESC, service, window_start) AS rank
    FROM postgresql.${pg_schema}.error_summary
    WHERE window_start >= CAST(:start_ts AS timestamp(3))
      AND window_start < CAST(:end_ts AS timestamp(3))
      AND (:all_services OR service IN :services)
    ORDER BY total_errors DESC, avg_latency DESC, service, window_start
    LIMIT :top
),
logs AS (
    SELECT w.rank, w.service, w.window_start, w.total_errors, w.avg_latency AS window_avg_latency,
           r.ts, r.event_id, r.status, r.latency_ms, r.message, r.request_id, r.host,
           row_number() OVER (PARTITION BY w.rank ORDER BY r.status DESC, r.ts, r.event_id) AS n
    FROM worst w
    JOIN (${raw_logs}) r
      ON r.service = w.service
     AND r.ts >= w.window_start
     AND r.ts < w.window_start + INTERVAL '1' MINUTE
    WHERE r.ts >= CAST(:lo_ts AS timestamp(3))
      AND r.ts < CAST(:hi_ts AS timestamp(3))
      AND (NOT :errors_only OR r.status >= 500)
)
SELECT rank, service, window_start, total_errors, window_avg_latency,
       ts AS "timestamp", event_id, status, latency_ms, message, request_id, host
FROM logs
WHERE n <= :per_window
ORDER BY rank, n
