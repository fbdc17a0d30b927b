-- How many raw logs of [:start_ts, :end_ts) are stored, and how many of them the template miner
-- counted for the source :source: fewer mined than stored means logs arrived after their hour was
-- mined (or it is not mined yet).
SELECT
    (SELECT count(*) FROM (${raw_logs}) r
     WHERE ts >= CAST(:start_ts AS timestamp(3)) AND ts < CAST(:end_ts AS timestamp(3))) AS stored,
    (SELECT coalesce(sum(logs), 0) FROM postgresql.${pg_schema}.template_minutes
     WHERE source = :source
       AND window_start >= CAST(:start_ts AS timestamp(3)) AND window_start < CAST(:end_ts AS timestamp(3))) AS mined
