-- The source: JSON logs on the Kinesis stream, with Studio's connector options.
-- Event time is the log's own `timestamp`. A timestamp that cannot be parsed becomes NULL under
-- TO_TIMESTAMP, and a NULL rowtime would fail the job, so it falls back to the epoch: such a record
-- is late for every window (and `event_time_ok` lets the INSERTs skip it explicitly).
-- shard_id and sequence_number (connector metadata) identify a record as the Lambda's eventID does.
-- ${...} placeholders are filled from the settings (python -m pipeline flink run / flink note).

DROP TEMPORARY TABLE IF EXISTS log_input;

CREATE TEMPORARY TABLE log_input (
  `timestamp`   STRING,
  service       STRING,
  status        INT,
  message       STRING,
  latency_ms    DOUBLE,
  shard_id        VARCHAR(128) NOT NULL METADATA FROM 'shard-id' VIRTUAL,
  sequence_number VARCHAR(128) NOT NULL METADATA FROM 'sequence-number' VIRTUAL,
  event_time_ok AS TO_TIMESTAMP(REPLACE(REPLACE(`timestamp`, 'T', ' '), 'Z', '')) IS NOT NULL,
  ts AS COALESCE(TO_TIMESTAMP(REPLACE(REPLACE(`timestamp`, 'T', ' '), 'Z', '')), TIMESTAMP '1970-01-01 00:00:00.000'),
  WATERMARK FOR ts AS ts - INTERVAL ${watermark_bound} HOUR TO SECOND
) WITH (
  'connector' = ${kinesis_connector},
  'stream' = ${stream},
  'aws.region' = ${region},
  ${endpoint_option}
  'aws.credentials.provider' = ${credentials_provider},
  'scan.stream.initpos' = ${initpos},
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'
);
