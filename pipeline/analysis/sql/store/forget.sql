-- Every template, count and the cursor of one source gone: the next run mines its raw logs again.
DELETE FROM log_templates WHERE source = %(source)s;
DELETE FROM template_minutes WHERE source = %(source)s;
DELETE FROM error_field_minutes WHERE source = %(source)s;
DELETE FROM template_mining WHERE source = %(source)s
