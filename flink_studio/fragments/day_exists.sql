-- Whether the log's date exists (no 2026-02-30; the pattern allows any day up to 31): the cast to
-- DATE is strict. Days up to 28 exist in every month, so only later days need the cast.
(SUBSTR(`timestamp`, 9, 2) < '29' OR ${log_date} IS NOT NULL)
