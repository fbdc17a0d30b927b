-- Latency quantiles per service and period, computed by Trino over the raw logs in MongoDB.
-- ${raw_logs} is the union of the collections that hold [:start_ts, :end_ts) (see layout.py);
-- the range predicate on ts is pushed down to MongoDB as a $gte/$lt filter. :period_unit is
-- 'minute' or 'hour', or 'range' for one period per service starting at :start_ts; latencies holds
-- approx_percentile's value for each of :quantiles, in order.
SELECT service,
       CASE WHEN :period_unit = 'range' THEN CAST(:start_ts AS timestamp(3))
            ELSE date_trunc(:period_unit, ts) END AS period,
       count(*) AS requests,
       count_if(status >= 500) AS status_5xx,
       approx_percentile(latency_ms, :quantiles) AS latencies
FROM (${raw_logs}) r
WHERE ts >= CAST(:start_ts AS timestamp(3))
  AND ts < CAST(:end_ts AS timestamp(3))
  AND (:all_services OR service IN :services)
GROUP BY 1, 2
ORDER BY 1, 2
