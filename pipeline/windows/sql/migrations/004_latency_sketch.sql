-- The latency sketch: per service and minute, how many logs fell in each logarithmic latency bucket
-- (pipeline/windows/sketch.py: bucket = ceil(ln(latency_ms) / ln(gamma)), 1% relative accuracy).
-- Percentiles over any minutes and services are sums of these counts. The primary key matches the
-- Flink sink (flink_studio/05_sink_latency_sketch.sql), so a replay upserts the same rows.

CREATE TABLE IF NOT EXISTS latency_sketch (
    service       text         NOT NULL,
    window_start  timestamp(3) NOT NULL,
    bucket        integer      NOT NULL,
    count         bigint       NOT NULL,
    PRIMARY KEY (service, window_start, bucket)
);

CREATE INDEX IF NOT EXISTS latency_sketch_window_start_idx ON latency_sketch (window_start);
