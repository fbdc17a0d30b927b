-- The alert watcher's memory (pipeline/live/alerts.py): one row per incident it alerted on, per
-- source of raw logs, with when its "opened" and "resolved" messages were sent. A message is sent
-- after its row is committed and marked sent after it left, so a watcher restarted at any point
-- sends each message once (or, if it died between publishing and marking, once more on restart,
-- never more).
CREATE TABLE incident_alerts (
    alert_id          bigserial PRIMARY KEY,
    source            text NOT NULL,
    service           text NOT NULL,
    start_minute      timestamp(3) NOT NULL,
    last_end          timestamp(3) NOT NULL,
    evidence          text NOT NULL,
    opened_at         timestamptz NOT NULL DEFAULT now(),
    opened_message    text NOT NULL,
    opened_sent_at    timestamptz,
    resolved_at       timestamptz,
    resolved_message  text,
    resolved_sent_at  timestamptz
);
CREATE INDEX incident_alerts_open ON incident_alerts (source, service) WHERE resolved_at IS NULL;
