-- Messages committed but not marked sent (the watcher stopped between the two): sent first.
SELECT alert_id, 'opened' AS kind, opened_message AS message FROM incident_alerts
WHERE source = %(source)s AND opened_sent_at IS NULL
UNION ALL
SELECT alert_id, 'resolved', resolved_message FROM incident_alerts
WHERE source = %(source)s AND resolved_at IS NOT NULL AND resolved_sent_at IS NULL AND opened_sent_at IS NOT NULL
ORDER BY alert_id, kind
