-- Sink: every log the job read, per service and event-time minute, late or not. It is fed by a plain
-- aggregation (not a window), updated with every record, so `received` minus the window's `requests`
-- is the number of late records: stored raw by the Lambda, read here too late for their window.
-- Upserts on the primary key, like the window tables.

DROP TEMPORARY TABLE IF EXISTS minute_arrivals;

CREATE TEMPORARY TABLE minute_arrivals (
  service       STRING,
  `minute`      TIMESTAMP(3),
  received      BIGINT,
  clock_skewed  BIGINT,
  PRIMARY KEY (service, `minute`) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = ${jdbc_url},
  'table-name' = 'minute_arrivals',
  'username' = ${jdbc_user},
  'password' = ${jdbc_password},
  'sink.buffer-flush.max-rows' = ${jdbc_flush_rows},
  'sink.buffer-flush.interval' = '1s'
);
