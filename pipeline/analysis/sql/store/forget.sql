-- Every mined template, count and the cursor gone: the next run mines all stored logs again.
TRUNCATE log_templates, template_minutes, error_field_minutes;
DELETE FROM template_mining WHERE name = %(name)s
