-- Reconciliation of the two paths every log takes, per service and event-time minute in
-- [:start_ts, :end_ts) (whole minutes): the raw logs the Lambda stored in MongoDB (${raw_logs}, the
-- collections of the range, see layout.py; the ts range is pushed down as a $gte/$lt filter), the
-- logs the Flink job read (minute_arrivals) and those its windows counted (service_minute_stats).
-- The three per-minute aggregates are full-outer-joined: a minute present on one side only has 0 on
-- the others. A missing clock_skew field (a handler that predates it) is false.
WITH raw AS (
    SELECT service,
           date_trunc('minute', ts) AS minute,
           count(*) AS stored,
           count_if(COALESCE(clock_skew, false)) AS skewed_raw
    FROM (${raw_logs}) r
    WHERE ts >= CAST(:start_ts AS timestamp(3))
      AND ts < CAST(:end_ts AS timestamp(3))
      AND (:all_services OR service IN :services)
    GROUP BY service, date_trunc('minute', ts)
),
arrivals AS (
    SELECT service, minute, received, clock_skewed
    FROM postgresql.${pg_schema}.minute_arrivals
    WHERE minute >= CAST(:start_ts AS timestamp(3))
      AND minute < CAST(:end_ts AS timestamp(3))
      AND (:all_services OR service IN :services)
),
windows AS (
    SELECT service, window_start AS minute, requests, clock_skewed
    FROM postgresql.${pg_schema}.service_minute_stats
    WHERE window_start >= CAST(:start_ts AS timestamp(3))
      AND window_start < CAST(:end_ts AS timestamp(3))
      AND (:all_services OR service IN :services)
)
SELECT COALESCE(r.service, a.service, w.service) AS service,
       COALESCE(r.minute, a.minute, w.minute) AS minute,
       COALESCE(r.stored, 0) AS stored,
       COALESCE(a.received, 0) AS received,
       COALESCE(w.requests, 0) AS counted,
       COALESCE(r.skewed_raw, 0) AS skewed_raw,
       COALESCE(a.clock_skewed, 0) AS skewed_received,
       COALESCE(w.clock_skewed, 0) AS skewed_windows
FROM raw r
FULL OUTER JOIN arrivals a
        ON a.service = r.service AND a.minute = r.minute
FULL OUTER JOIN windows w
        ON w.service = COALESCE(r.service, a.service) AND w.minute = COALESCE(r.minute, a.minute)
ORDER BY service, minute
