-- One mined template by id.
SELECT template_id, service, template, first_seen, last_seen, sample
FROM postgresql.${pg_schema}.log_templates
WHERE source = :source AND template_id = :template_id
