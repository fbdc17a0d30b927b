-- Sink: the latency sketch, per service, minute and logarithmic latency bucket, how many logs
-- (`latency_bucket` of the view `logs`; the mapping, 1% relative accuracy, is in
-- pipeline/windows/sketch.py). Percentiles of any range are read from these counts. Upserts on the
-- primary key, like the other window tables.

DROP TEMPORARY TABLE IF EXISTS latency_sketch;

CREATE TEMPORARY TABLE latency_sketch (
  service       STRING,
  window_start  TIMESTAMP(3),
  bucket        INT,
  `count`       BIGINT,
  PRIMARY KEY (service, window_start, bucket) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = ${jdbc_url},
  'table-name' = 'latency_sketch',
  'username' = ${jdbc_user},
  'password' = ${jdbc_password},
  'sink.buffer-flush.max-rows' = ${jdbc_flush_rows},
  'sink.buffer-flush.interval' = '1s'
);
