-- The text of some mined templates.
SELECT template_id, template
FROM postgresql.${pg_schema}.log_templates
WHERE source = :source AND template_id IN :ids
