-- Smoke job of the local stack: copy log records from a Kinesis stream into a PostgreSQL table.
-- The options of the source are Managed Flink Studio's ('stream', 'aws.region', 'scan.stream.initpos');
-- locally 'aws.endpoint' points at moto. ${...} placeholders are filled from the settings.

CREATE TEMPORARY TABLE log_input (
  `timestamp`  STRING,
  service      STRING,
  status       INT,
  message      STRING,
  latency_ms   DOUBLE,
  shard_id     VARCHAR(128) NOT NULL METADATA FROM 'shard-id' VIRTUAL,
  sequence_number VARCHAR(128) NOT NULL METADATA FROM 'sequence-number' VIRTUAL
) WITH (
  'connector' = ${kinesis_connector},
  'stream' = ${stream},
  'aws.region' = ${region},
  ${endpoint_option}
  'aws.credentials.provider' = ${credentials_provider},
  'scan.stream.initpos' = 'TRIM_HORIZON',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'
);

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
SELECT shard_id || ':' || sequence_number, `timestamp`, service, status, message, latency_ms
FROM log_input;
