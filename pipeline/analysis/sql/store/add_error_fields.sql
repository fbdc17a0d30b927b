-- Per-service, per-minute counts of the field values of server errors, added to what is stored.
INSERT INTO error_field_minutes AS f (source, service, window_start, field, value, errors)
VALUES %s
ON CONFLICT (source, service, window_start, field, value) DO UPDATE SET
    errors = f.errors + EXCLUDED.errors
