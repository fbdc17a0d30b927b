-- What the store knows of some templates (those a mining step merged into others).
SELECT template_id, service, template, first_seen, last_seen, sample, sample_status
FROM log_templates
WHERE source = %(source)s AND template_id = ANY(%(ids)s)
