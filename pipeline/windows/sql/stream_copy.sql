-- Smoke job of the local stack: copy log records from a Kinesis stream into a PostgreSQL table.
-- The source is the window job's: flink_studio/01_source_log_input.sql (log_input), run first.
-- ${...} placeholders are filled from the settings.

CREATE TEMPORARY TABLE copy_sink (
  event_id   STRING,
  `timestamp` STRING,
  service    STRING,
  status     INT,
  message    STRING,
  latency_ms DOUBLE,
  PRIMARY KEY (event_id) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = ${jdbc_url},
  'table-name' = ${table},
  'username' = ${jdbc_user},
  'password' = ${jdbc_password},
  'sink.buffer-flush.max-rows' = '5000',
  'sink.buffer-flush.interval' = '1s'
);

INSERT INTO copy_sink
SELECT shard_id || ':' || sequence_number, `timestamp`, service, status_code, message, latency
FROM log_input
WHERE ts > ${not_a_log};
