-- What the window job wrote for [start, end): one row per service and minute, with the error summary.
SELECT s.service, s.window_start, s.requests, s.status_4xx, s.status_5xx, s.error_rate,
       s.avg_latency, s.max_latency, coalesce(e.total_errors, 0) AS total_errors
FROM service_minute_stats s
LEFT JOIN error_summary e ON e.service = s.service AND e.window_start = s.window_start
WHERE s.window_start >= %(start)s AND s.window_start < %(end)s
ORDER BY s.window_start, s.service
