-- The job: the INSERTs run as one Flink job (a statement set locally, runAsOne in Studio), so the
-- stream is read once. Tumbling one-minute windows on event time; a window's row is written when
-- the watermark passes its end. Only logs count (the view `logs`, 01_source_log_input.sql);
-- minute_arrivals counts every log read, late or not.

INSERT INTO error_summary
SELECT service, window_start,
       COUNT(*) AS total_errors,
       AVG(latency) AS avg_latency
FROM TABLE(TUMBLE(TABLE logs, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
WHERE status_code >= 500
GROUP BY service, window_start, window_end;

INSERT INTO service_minute_stats
SELECT service, window_start, window_end,
       COUNT(*) AS requests,
       COUNT(*) FILTER (WHERE status_code >= 400 AND status_code < 500) AS status_4xx,
       COUNT(*) FILTER (WHERE status_code >= 500) AS status_5xx,
       CAST(COUNT(*) FILTER (WHERE status_code >= 500) AS DOUBLE) / COUNT(*) AS error_rate,
       AVG(latency) AS avg_latency,
       MAX(latency) AS max_latency,
       COUNT(*) FILTER (WHERE clock_skew) AS clock_skewed
FROM TABLE(TUMBLE(TABLE logs, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY service, window_start, window_end;

INSERT INTO minute_arrivals
SELECT service, `minute`, COUNT(*) AS received, COUNT(*) FILTER (WHERE clock_skew) AS clock_skewed
FROM (SELECT service, CAST(FLOOR(ts TO MINUTE) AS TIMESTAMP(3)) AS `minute`, clock_skew FROM logs)
GROUP BY service, `minute`;

INSERT INTO latency_sketch
SELECT service, window_start,
       LISTAGG(CONCAT(CAST(latency_bucket AS STRING), ':', CAST(logs_in_bucket AS STRING)), ',') AS `buckets`
FROM TABLE(TUMBLE(TABLE latency_bucket_counts, DESCRIPTOR(counted_at), INTERVAL '1' MINUTE))
GROUP BY service, window_start, window_end;
