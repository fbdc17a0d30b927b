-- The log's `timestamp` in UTC, to the millisecond (NULL when it cannot be read). The job runs with
-- table.local-time-zone = UTC, so the cast of the instant gives its UTC wall time.
-- Inserted where 01_source_log_input.sql says ${event_time_utc} (computed columns cannot refer to
-- each other, so each use repeats the expression).
CAST(TO_TIMESTAMP_LTZ(${event_epoch_ms}, 3) AS TIMESTAMP(3))
