-- Remove the rows of every service whose name contains %(containing)s from the tables the window
-- job writes (a benchmark's or a test's own services, named after its run).
DELETE FROM error_summary WHERE strpos(service, %(containing)s) > 0;
DELETE FROM service_minute_stats WHERE strpos(service, %(containing)s) > 0;
DELETE FROM minute_arrivals WHERE strpos(service, %(containing)s) > 0;
DELETE FROM latency_sketch WHERE strpos(service, %(containing)s) > 0;
