-- A new incident: its row and the "opened" message to send, committed before it is sent.
INSERT INTO incident_alerts (source, service, start_minute, last_end, evidence, opened_message)
VALUES (%(source)s, %(service)s, %(start)s, %(end)s, %(evidence)s, %(message)s)
RETURNING alert_id
