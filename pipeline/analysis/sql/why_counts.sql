-- The server errors of one service per field value, in the window [:start_ts, :end_ts) and in its
-- baseline [:baseline_ts, :start_ts): the mined field counts, and the template of each error.
SELECT field, value,
       sum(CASE WHEN window_start >= CAST(:start_ts AS timestamp(3)) THEN errors ELSE 0 END) AS window_errors,
       sum(CASE WHEN window_start < CAST(:start_ts AS timestamp(3)) THEN errors ELSE 0 END) AS baseline_errors
FROM (
    SELECT window_start, field, value, errors
    FROM postgresql.${pg_schema}.error_field_minutes
    WHERE source = :source
      AND service = :service
      AND window_start >= CAST(:baseline_ts AS timestamp(3))
      AND window_start < CAST(:end_ts AS timestamp(3))
    UNION ALL
    SELECT window_start, 'template_id' AS field, template_id AS value, errors
    FROM postgresql.${pg_schema}.template_minutes
    WHERE source = :source
      AND service = :service
      AND errors > 0
      AND window_start >= CAST(:baseline_ts AS timestamp(3))
      AND window_start < CAST(:end_ts AS timestamp(3))
) f
GROUP BY field, value
