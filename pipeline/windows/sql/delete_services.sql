-- Remove the rows of every service whose name contains %(containing)s from the tables the window
-- job and the template miner write (a benchmark's or a test's own services, named after its run),
-- and the miner cursors and alerts of sources so named.
DELETE FROM error_summary WHERE strpos(service, %(containing)s) > 0;
DELETE FROM service_minute_stats WHERE strpos(service, %(containing)s) > 0;
DELETE FROM minute_arrivals WHERE strpos(service, %(containing)s) > 0;
DELETE FROM latency_sketch WHERE strpos(service, %(containing)s) > 0;
DELETE FROM log_templates WHERE strpos(service, %(containing)s) > 0;
DELETE FROM template_minutes WHERE strpos(service, %(containing)s) > 0;
DELETE FROM error_field_minutes WHERE strpos(service, %(containing)s) > 0;
DELETE FROM template_mining WHERE strpos(source, %(containing)s) > 0;
DELETE FROM incident_alerts WHERE strpos(source, %(containing)s) > 0;
