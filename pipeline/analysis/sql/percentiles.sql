-- Latency percentiles per service and minute, computed by Trino over the raw logs in MongoDB.
-- ${raw_logs} is the union of the collections that hold [:start_ts, :end_ts) (see layout.py);
-- the range predicate on ts is pushed down to MongoDB as a $gte/$lt filter.
SELECT service,
       date_trunc('minute', ts) AS minute,
       count(*) AS requests,
       count_if(status >= 500) AS status_5xx,
       approx_percentile(latency_ms, 0.50) AS p50,
       approx_percentile(latency_ms, 0.95) AS p95,
       approx_percentile(latency_ms, 0.99) AS p99
FROM (${raw_logs}) r
WHERE ts >= CAST(:start_ts AS timestamp(3))
  AND ts < CAST(:end_ts AS timestamp(3))
  AND (:all_services OR service IN :services)
GROUP BY service, date_trunc('minute', ts)
ORDER BY service, minute
