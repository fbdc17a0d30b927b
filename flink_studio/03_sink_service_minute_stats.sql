-- Sink: every service and minute, healthy or not, so trends can be drawn for all minutes.
-- error_rate = status_5xx / requests; clock_skewed: records counted at their arrival time because
-- their producer's clock ran ahead. Upserts on the primary key, like error_summary.

DROP TEMPORARY TABLE IF EXISTS service_minute_stats;

CREATE TEMPORARY TABLE service_minute_stats (
  service       STRING,
  window_start  TIMESTAMP(3),
  window_end    TIMESTAMP(3),
  requests      BIGINT,
  status_4xx    BIGINT,
  status_5xx    BIGINT,
  error_rate    DOUBLE,
  avg_latency   DOUBLE,
  max_latency   DOUBLE,
  clock_skewed  BIGINT,
  PRIMARY KEY (service, window_start) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = ${jdbc_url},
  'table-name' = 'service_minute_stats',
  'username' = ${jdbc_user},
  'password' = ${jdbc_password},
  'sink.buffer-flush.max-rows' = ${jdbc_flush_rows},
  'sink.buffer-flush.interval' = '1s'
);
