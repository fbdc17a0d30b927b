-- An incident over: the "resolved" message to send, committed before it is sent.
UPDATE incident_alerts SET resolved_at = now(), resolved_message = %(message)s
WHERE alert_id = %(alert_id)s AND resolved_at IS NULL
