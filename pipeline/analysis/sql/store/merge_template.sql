-- A template that became another (it generalised, or was folded into a wider one): its per-minute
-- counts move to the template it became, and its row goes (the caller folded its first/last seen
-- into the new template's row first).
WITH moved AS (
    DELETE FROM template_minutes WHERE source = %(source)s AND template_id = %(old)s
    RETURNING service, window_start, logs, errors
)
INSERT INTO template_minutes AS m (source, template_id, service, window_start, logs, errors)
SELECT %(source)s, %(new)s, service, window_start, logs, errors FROM moved
ON CONFLICT (source, window_start, template_id) DO UPDATE SET
    logs = m.logs + EXCLUDED.logs,
    errors = m.errors + EXCLUDED.errors;
DELETE FROM log_templates WHERE source = %(source)s AND template_id = %(old)s
