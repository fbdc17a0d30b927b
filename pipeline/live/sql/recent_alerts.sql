-- The source's incidents, open ones first, then the most recent.
SELECT alert_id, service, start_minute AS start, last_end AS "end",
       CASE WHEN resolved_at IS NULL THEN 'open' ELSE 'resolved' END AS state,
       evidence, opened_at, resolved_at
FROM incident_alerts
WHERE source = %(source)s
ORDER BY resolved_at IS NULL DESC, start_minute DESC
LIMIT %(limit)s
