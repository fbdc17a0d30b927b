-- The latency sketch, one row per service and minute (flink_studio/05_sink_latency_sketch.sql):
-- `buckets` holds 'bucket:count' pairs joined by commas (pipeline/windows/sketch.py reads them).
-- It replaces the table of one row per bucket, which a day at a million logs filled with some
-- 600,000 rows: reading them back cost seconds, where these 8,640 rows cost a fraction of one.
-- The rows of the old layout are dropped: a replay of the stream writes them again.
--
-- The view `latency_sketch_buckets` unfolds the rows into (service, window_start, bucket, count)
-- for SQL readers (Trino, dashboards): the quantile walk of pipeline/windows/sketch.py in SQL.

DROP TABLE IF EXISTS latency_sketch;

CREATE TABLE latency_sketch (
    service       text         NOT NULL,
    window_start  timestamp(3) NOT NULL,
    buckets       text         NOT NULL,
    PRIMARY KEY (service, window_start)
);

CREATE INDEX latency_sketch_window_start_idx ON latency_sketch (window_start);

CREATE VIEW latency_sketch_buckets AS
SELECT service, window_start,
       split_part(pair, ':', 1)::integer AS bucket,
       split_part(pair, ':', 2)::bigint AS count
FROM latency_sketch, unnest(string_to_array(buckets, ',')) AS pair;
