-- Top error patterns per service: messages with their variable parts masked (${masked} is a chain
-- of regexp_replace whose patterns and replacements are bound parameters, see patterns.py),
-- grouped and counted, with one example message each.
WITH masked AS (
    SELECT service, message, ts, ${masked} AS pattern
    FROM (${raw_logs}) r
    WHERE ts >= CAST(:start_ts AS timestamp(3))
      AND ts < CAST(:end_ts AS timestamp(3))
      AND status >= :min_status
      AND (:all_services OR service IN :services)
),
grouped AS (
    SELECT service, pattern,
           count(*) AS occurrences,
           min(message) AS example,
           min(ts) AS first_seen,
           max(ts) AS last_seen
    FROM masked
    GROUP BY service, pattern
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY service ORDER BY occurrences DESC, pattern) AS rank
    FROM grouped
)
SELECT service, rank, pattern, occurrences, example, first_seen, last_seen
FROM ranked
WHERE rank <= :top
ORDER BY service, rank
