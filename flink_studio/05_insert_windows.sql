-- The job: both INSERTs run as one Flink job (a statement set locally, runAsOne in Studio), so the
-- stream is read once. Tumbling one-minute windows on event time; a window's row is written when
-- the watermark passes its end. Records without a service or a parseable timestamp are skipped.

INSERT INTO error_summary
SELECT service, window_start,
       COUNT(*) AS total_errors,
       AVG(latency_ms) AS avg_latency
FROM TABLE(TUMBLE(TABLE log_input, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
WHERE event_time_ok AND service IS NOT NULL AND status >= 500
GROUP BY service, window_start, window_end;

INSERT INTO service_minute_stats
SELECT service, window_start, window_end,
       COUNT(*) AS requests,
       COUNT(*) FILTER (WHERE status >= 400 AND status < 500) AS status_4xx,
       COUNT(*) FILTER (WHERE status >= 500) AS status_5xx,
       CAST(COUNT(*) FILTER (WHERE status >= 500) AS DOUBLE) / COUNT(*) AS error_rate,
       AVG(latency_ms) AS avg_latency,
       MAX(latency_ms) AS max_latency
FROM TABLE(TUMBLE(TABLE log_input, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
WHERE event_time_ok AND service IS NOT NULL
GROUP BY service, window_start, window_end;
