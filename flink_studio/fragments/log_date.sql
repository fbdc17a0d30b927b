-- The date of the log's `timestamp` (characters 1-10); the cast is strict: 2026-02-30 gives NULL.
-- TRY_CAST: a record that is not a log yields NULL instead of failing the job.
TRY_CAST(SUBSTR(`timestamp`, 1, 10) AS DATE)
