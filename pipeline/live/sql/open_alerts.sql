-- The source's incidents alerted on and not resolved yet.
SELECT alert_id, service, start_minute, last_end, evidence
FROM incident_alerts
WHERE source = %(source)s AND resolved_at IS NULL
ORDER BY start_minute
FOR UPDATE
