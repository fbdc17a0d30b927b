-- Per mined template of the source :source and the services asked: its logs and errors in [:start_ts, :end_ts), in the
-- look-back period [:lookback_ts, :start_ts), and in the same span one day and one week earlier.
-- pipeline/analysis/pattern_stats.py decides from these sums which templates are new or rose.
WITH counted AS (
    SELECT template_id, service,
           sum(CASE WHEN in_range THEN logs ELSE 0 END) AS logs,
           sum(CASE WHEN in_range THEN errors ELSE 0 END) AS errors,
           sum(CASE WHEN window_start >= CAST(:lookback_ts AS timestamp(3))
                     AND window_start < CAST(:start_ts AS timestamp(3)) THEN logs ELSE 0 END) AS logs_lookback,
           sum(CASE WHEN window_start >= CAST(:day_start_ts AS timestamp(3))
                     AND window_start < CAST(:day_end_ts AS timestamp(3)) THEN logs ELSE 0 END) AS logs_day_before,
           sum(CASE WHEN window_start >= CAST(:day_start_ts AS timestamp(3))
                     AND window_start < CAST(:day_end_ts AS timestamp(3)) THEN errors ELSE 0 END) AS errors_day_before,
           sum(CASE WHEN window_start >= CAST(:week_start_ts AS timestamp(3))
                     AND window_start < CAST(:week_end_ts AS timestamp(3)) THEN logs ELSE 0 END) AS logs_week_before,
           sum(CASE WHEN window_start >= CAST(:week_start_ts AS timestamp(3))
                     AND window_start < CAST(:week_end_ts AS timestamp(3)) THEN errors ELSE 0 END) AS errors_week_before
    FROM (
        SELECT template_id, service, window_start, logs, errors,
               window_start >= CAST(:start_ts AS timestamp(3)) AND window_start < CAST(:end_ts AS timestamp(3)) AS in_range
        FROM postgresql.${pg_schema}.template_minutes
        WHERE source = :source
          AND window_start >= CAST(:first_ts AS timestamp(3))
          AND window_start < CAST(:end_ts AS timestamp(3))
          AND (:all_services OR service IN :services)
    ) m
    GROUP BY template_id, service
)
SELECT c.*, t.template, t.sample, t.first_seen, t.last_seen
FROM counted c
JOIN postgresql.${pg_schema}.log_templates t ON t.source = :source AND t.template_id = c.template_id
WHERE c.logs > 0
