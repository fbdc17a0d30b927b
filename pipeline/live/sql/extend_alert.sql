-- An open incident seen again: how far it reaches now, and its latest evidence.
UPDATE incident_alerts SET last_end = GREATEST(last_end, %(end)s), evidence = %(evidence)s
WHERE alert_id = %(alert_id)s
