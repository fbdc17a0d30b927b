-- What makes the windows reconcilable with the raw logs.
-- service_minute_stats.clock_skewed: records of the window whose producer clock ran ahead of their
-- arrival in the stream by more than the tolerance (counted at their arrival time).
-- minute_arrivals: every log the Flink job read, per service and event-time minute, late or not
-- (a plain aggregation, not a window: it is updated for every record). A window's `requests` below
-- `received` are the late records: stored raw, read by Flink, too late for their window.

ALTER TABLE service_minute_stats ADD COLUMN IF NOT EXISTS clock_skewed bigint NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS minute_arrivals (
    service       text         NOT NULL,
    minute        timestamp(3) NOT NULL,
    received      bigint       NOT NULL,
    clock_skewed  bigint       NOT NULL,
    PRIMARY KEY (service, minute)
);

CREATE INDEX IF NOT EXISTS minute_arrivals_minute_idx ON minute_arrivals (minute);
