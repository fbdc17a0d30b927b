-- A message left for the topic.
UPDATE incident_alerts
SET opened_sent_at = CASE WHEN %(kind)s = 'opened' THEN now() ELSE opened_sent_at END,
    resolved_sent_at = CASE WHEN %(kind)s = 'resolved' THEN now() ELSE resolved_sent_at END
WHERE alert_id = %(alert_id)s
