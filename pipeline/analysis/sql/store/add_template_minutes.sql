-- Per-template, per-minute counts of one mining step, added to what earlier steps stored.
INSERT INTO template_minutes AS m (source, template_id, service, window_start, logs, errors)
VALUES %s
ON CONFLICT (source, window_start, template_id) DO UPDATE SET
    logs = m.logs + EXCLUDED.logs,
    errors = m.errors + EXCLUDED.errors
