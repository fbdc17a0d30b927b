-- Sink: the latency sketch, one row per service and minute. `buckets` lists how many logs fell in
-- each logarithmic latency bucket (`latency_bucket` of the view `logs`; the mapping, 1% relative
-- accuracy, is in pipeline/windows/sketch.py) as 'bucket:count' pairs joined by commas, in no
-- particular order. Percentiles of any range are sums of these counts. One row per service-minute
-- rather than one per bucket: a day at a million logs is 8,640 rows to write and to read instead of
-- about 600,000. Upserts on the primary key, like the other window tables.
--
-- The counts per bucket are a window aggregation of their own (the view below); its rows carry
-- the window's `window_time`, a time attribute, so a second tumbling window of the same minute
-- gathers them into one row (Flink's cascading window aggregation).

DROP TEMPORARY VIEW IF EXISTS latency_bucket_counts;

CREATE TEMPORARY VIEW latency_bucket_counts AS
SELECT service, window_time AS counted_at, latency_bucket, COUNT(*) AS logs_in_bucket
FROM TABLE(TUMBLE(TABLE logs, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY service, window_start, window_end, window_time, latency_bucket;

DROP TEMPORARY TABLE IF EXISTS latency_sketch;

CREATE TEMPORARY TABLE latency_sketch (
  service       STRING,
  window_start  TIMESTAMP(3),
  `buckets`     STRING,  -- quoted: BUCKETS is a keyword of Flink 1.20
  PRIMARY KEY (service, window_start) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = ${jdbc_url},
  'table-name' = 'latency_sketch',
  'username' = ${jdbc_user},
  'password' = ${jdbc_password},
  'sink.buffer-flush.max-rows' = ${jdbc_flush_rows},
  'sink.buffer-flush.interval' = '1s'
);
