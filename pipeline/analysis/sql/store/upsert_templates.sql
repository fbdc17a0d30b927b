-- The templates one mining step saw (VALUES filled by psycopg2's execute_values): a template the
-- store has keeps its earliest first_seen (with that moment's sample) and its latest last_seen.
INSERT INTO log_templates AS t (source, template_id, service, template, first_seen, last_seen, sample, sample_status)
VALUES %s
ON CONFLICT (source, template_id) DO UPDATE SET
    first_seen = LEAST(t.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(t.last_seen, EXCLUDED.last_seen),
    sample = CASE WHEN EXCLUDED.first_seen < t.first_seen THEN EXCLUDED.sample ELSE t.sample END,
    sample_status = CASE WHEN EXCLUDED.first_seen < t.first_seen THEN EXCLUDED.sample_status
                         ELSE t.sample_status END
