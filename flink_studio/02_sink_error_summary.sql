-- Sink: the seed's error_summary in PostgreSQL, one row per service and minute that had errors
-- (status >= 500); avg_latency is the mean latency of those error responses.
-- The primary key (also declared in PostgreSQL) makes the JDBC sink upsert, so a restarted or
-- replayed job rewrites the same rows instead of adding new ones.

DROP TEMPORARY TABLE IF EXISTS error_summary;

CREATE TEMPORARY TABLE error_summary (
  service       STRING,
  window_start  TIMESTAMP(3),
  total_errors  BIGINT,
  avg_latency   DOUBLE,
  PRIMARY KEY (service, window_start) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = ${jdbc_url},
  'table-name' = 'error_summary',
  'username' = ${jdbc_user},
  'password' = ${jdbc_password},
  'sink.buffer-flush.max-rows' = ${jdbc_flush_rows},
  'sink.buffer-flush.interval' = '1s'
);
