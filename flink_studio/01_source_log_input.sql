-- The source: JSON logs on the Kinesis stream, with Studio's connector options.
--
-- The record contract (lambda/record_contract.json, enforced by the Lambda) decides what is a log;
-- this paragraph applies the same rules, so a record is counted here exactly when the Lambda stores
-- it as a log. The five fields are read as text (a JSON number as its digits, a string as its
-- characters) and handed to the function `log_time` (flink_studio/udf/, a Java scalar function
-- whose jar carries the contract's patterns and limits): the log's own `timestamp` in UTC (Z, an
-- offset or none = UTC; T or a space; milliseconds count) when the record is a log, NULL when it is
-- not. A function, not SQL: REGEXP looks its pattern up per record and the date arithmetic has no
-- common sub-expressions, which made the contract cost a third of the job's throughput.
--
-- Event time `ts` is that time capped at the clock-skew tolerance after the record's arrival in the
-- stream (`arrival`, Kinesis' approximate arrival time): a stamp at or beyond the cap counts at the
-- cap, flagged `clock_skew` in the view below, as the Lambda does. The watermark follows the earlier
-- of `ts` and `arrival`, so a producer whose clock runs ahead cannot move it past the correct records
-- that follow. A record that is not a log gets ${not_a_log} as `ts` (the contract's timestamps start
-- in 1970): a NULL rowtime would fail the job, and so early a time never moves the watermark. The
-- view `logs` leaves those records out (the Lambda quarantines them).
--
-- shard_id and sequence_number (connector metadata) identify a record as the Lambda's eventID does.
-- ${...} placeholders are filled from the settings (python -m pipeline flink run / flink note).

DROP TEMPORARY FUNCTION IF EXISTS log_time;

CREATE TEMPORARY FUNCTION log_time AS 'workbench.flink.LogTime' LANGUAGE JAVA;

DROP TEMPORARY TABLE IF EXISTS log_input;

CREATE TEMPORARY TABLE log_input (
  `timestamp`     STRING,
  service         STRING,
  status          STRING,
  message         STRING,
  latency_ms      STRING,
  arrival         TIMESTAMP_LTZ(3) NOT NULL METADATA FROM 'timestamp' VIRTUAL,
  shard_id        VARCHAR(128) NOT NULL METADATA FROM 'shard-id' VIRTUAL,
  sequence_number VARCHAR(128) NOT NULL METADATA FROM 'sequence-number' VIRTUAL,
  status_code AS TRY_CAST(status AS INT),
  latency AS TRY_CAST(latency_ms AS DOUBLE),
  ts AS COALESCE(
    LEAST(log_time(`timestamp`, service, status, message, latency_ms),
          CAST(arrival AS TIMESTAMP(3)) + INTERVAL ${clock_skew_tolerance} HOUR TO SECOND),
    ${not_a_log}),
  WATERMARK FOR ts AS LEAST(ts, CAST(arrival AS TIMESTAMP(3))) - INTERVAL ${watermark_bound} HOUR TO SECOND
) WITH (
  'connector' = ${kinesis_connector},
  'stream' = ${stream},
  'aws.region' = ${region},
  ${endpoint_option}
  'aws.credentials.provider' = ${credentials_provider},
  'scan.stream.initpos' = ${initpos},
  -- New shards (a split or a merge) are looked for every second, not every 10 s (the default): a
  -- child shard's first records then wait less than the watermark bound and are not late.
  'scan.shard.discovery.intervalmillis' = '1000',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'
);

-- The logs (records that pass the contract) with the columns the windows use. The INSERTs read
-- this view rather than log_input, and the job runs with
-- 'table.optimizer.reuse-optimize-block-with-digest-enabled' = 'true': the planner then computes
-- the view once per record for all of them instead of once per INSERT (each INSERT needs different
-- columns, so without the view their projections, and the contract's expressions, are not shared).

DROP TEMPORARY VIEW IF EXISTS logs;

CREATE TEMPORARY VIEW logs AS
SELECT service, ts, status_code, latency,
       ts = CAST(arrival AS TIMESTAMP(3)) + INTERVAL ${clock_skew_tolerance} HOUR TO SECOND AS clock_skew,
       -- the latency sketch's bucket (pipeline/windows/sketch.py): ceil(ln(latency) / ln(gamma)),
       -- a shared bucket for zero and sub-microsecond latencies
       CASE WHEN latency >= ${sketch_min_ms} THEN CAST(CEIL(LN(latency) / ${sketch_ln_gamma}) AS INT)
            ELSE ${sketch_zero_bucket} END AS latency_bucket
FROM log_input
WHERE ts > ${not_a_log};
