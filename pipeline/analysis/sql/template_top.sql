-- Top mined templates of the source :source per service in [:start_ts, :end_ts), by ${measure} (errors: answers with
-- status >= 500; logs: every log), from the per-minute counts the template miner stored. The
-- template's sample, first_seen and last_seen are over all mined time, not only the range.
WITH counted AS (
    SELECT template_id, service, sum(logs) AS logs, sum(errors) AS errors
    FROM postgresql.${pg_schema}.template_minutes
    WHERE source = :source
      AND window_start >= CAST(:start_ts AS timestamp(3))
      AND window_start < CAST(:end_ts AS timestamp(3))
      AND (:all_services OR service IN :services)
    GROUP BY template_id, service
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY service ORDER BY ${measure} DESC, template_id) AS rank
    FROM counted
    WHERE ${measure} > 0
)
SELECT r.service, r.rank, r.template_id, t.template, r.${measure} AS occurrences, r.logs, r.errors,
       t.sample, t.first_seen, t.last_seen
FROM ranked r
JOIN postgresql.${pg_schema}.log_templates t ON t.source = :source AND t.template_id = r.template_id
WHERE r.rank <= :top
ORDER BY r.service, r.rank
