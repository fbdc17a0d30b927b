-- The source: JSON logs on the Kinesis stream, with Studio's connector options.
--
-- The record contract (lambda/record_contract.json, enforced by the Lambda) decides what is a log;
-- this paragraph mirrors it, so a record is counted here exactly when the Lambda stores it as a log.
-- The five fields are read as text (a JSON number as its digits, a string as its characters) and the
-- contract's patterns are applied to that text: `is_log`. Records that are not logs are skipped by
-- the INSERTs (the Lambda quarantines them).
--
-- Event time is the log's own `timestamp` (Z, an offset or none = UTC; T or a space; milliseconds
-- count), converted to UTC, but capped at the clock-skew tolerance after the record's arrival in the
-- stream (`arrival`, Kinesis' approximate arrival time): a stamp at or beyond the cap counts at the
-- cap, flagged `clock_skew` in the view below, as the Lambda does. The watermark follows the earlier
-- of `ts` and `arrival`, so a producer whose clock runs ahead cannot move it past the correct records
-- that follow. A record without a usable timestamp gets the epoch: it is not a log, a NULL rowtime
-- would fail the job, and the epoch never moves the watermark.
--
-- shard_id and sequence_number (connector metadata) identify a record as the Lambda's eventID does.
-- ${...} placeholders are filled from the settings (python -m pipeline flink run / flink note).

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
  is_log AS COALESCE(
    REGEXP(`timestamp`, ${timestamp_pattern})
    AND ${day_exists}
    AND REGEXP(service, ${service_pattern})
    AND REGEXP(status, ${status_pattern})
    AND message IS NOT NULL
    AND REGEXP(latency_ms, ${latency_pattern})
    AND TRY_CAST(latency_ms AS DOUBLE) BETWEEN 0 AND ${latency_max_ms}, FALSE),
  status_code AS TRY_CAST(status AS INT),
  latency AS TRY_CAST(latency_ms AS DOUBLE),
  ts AS COALESCE(
    LEAST(${event_time_utc}, CAST(arrival AS TIMESTAMP(3)) + INTERVAL ${clock_skew_tolerance} HOUR TO SECOND),
    TIMESTAMP '1970-01-01 00:00:00.000'),
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

-- The logs (records that pass the contract) with the columns the windows use. The three INSERTs read
-- this view rather than log_input, and the job runs with
-- 'table.optimizer.reuse-optimize-block-with-digest-enabled' = 'true': the planner then computes
-- the view once per record for all three instead of once per INSERT (each INSERT needs different
-- columns, so without the view their projections, and the contract's expressions, are not shared).

DROP TEMPORARY VIEW IF EXISTS logs;

CREATE TEMPORARY VIEW logs AS
SELECT service, ts, status_code, latency,
       ts = CAST(arrival AS TIMESTAMP(3)) + INTERVAL ${clock_skew_tolerance} HOUR TO SECOND AS clock_skew
FROM log_input
WHERE is_log;
