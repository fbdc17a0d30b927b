-- The windows a live run's services have so far: requests and 5xx answers per service and minute.
SELECT service, window_start AS minute, requests, status_5xx
FROM service_minute_stats
WHERE service = ANY(%(services)s) AND window_start >= %(since)s
ORDER BY window_start, service
