-- The Flink job's sinks. Primary keys match the Flink sink tables (flink_studio/02_*, 03_*), so the
-- JDBC sink upserts (INSERT ... ON CONFLICT DO UPDATE) and a replay leaves the same rows.
-- Window times are event time in UTC (timestamp without time zone, as Flink's TIMESTAMP(3)).

CREATE TABLE IF NOT EXISTS error_summary (
    service       text             NOT NULL,
    window_start  timestamp(3)     NOT NULL,
    total_errors  bigint           NOT NULL,
    avg_latency   double precision,
    PRIMARY KEY (service, window_start)
);

CREATE TABLE IF NOT EXISTS service_minute_stats (
    service       text             NOT NULL,
    window_start  timestamp(3)     NOT NULL,
    window_end    timestamp(3)     NOT NULL,
    requests      bigint           NOT NULL,
    status_4xx    bigint           NOT NULL,
    status_5xx    bigint           NOT NULL,
    error_rate    double precision NOT NULL,
    avg_latency   double precision,
    max_latency   double precision,
    PRIMARY KEY (service, window_start)
);

-- Trends over all services read time ranges; the primary keys serve per-service lookups.
CREATE INDEX IF NOT EXISTS error_summary_window_start_idx ON error_summary (window_start);
CREATE INDEX IF NOT EXISTS service_minute_stats_window_start_idx ON service_minute_stats (window_start);
