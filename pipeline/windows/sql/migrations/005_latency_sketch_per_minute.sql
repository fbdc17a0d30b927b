-- The latency sketch, one row per service and minute (flink_studio/05_sink_latency_sketch.sql):
-- `buckets` holds 'bucket:count' pairs joined by commas (pipeline/windows/sketch.py reads them).
-- It replaces the table of one row per bucket, which a day at a million logs filled with some
-- 600,000 rows: reading them back cost seconds, where these 8,640 rows cost a fraction of one.
-- The rows of the old layout are dropped: a replay of the stream writes them again.
--
-- p50, p95 and p99 of the minute are computed by PostgreSQL when a row is written (generated
-- columns): the per-minute figures most readers want (charts, the incident detector over a week)
-- then cross Trino as three numbers instead of the whole sketch. latency_sketch_quantile is the
-- walk of pipeline/windows/sketch.py's `quantiles` for one row: the bucket holding the log of rank
-- floor(q * (n - 1)), as the latency that bucket stands for (a test checks both agree).
--
-- The view `latency_sketch_buckets` unfolds the rows into (service, window_start, bucket, count)
-- for SQL readers (Trino, dashboards).

DROP TABLE IF EXISTS latency_sketch;

CREATE FUNCTION latency_sketch_quantile(buckets text, q double precision) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    bucket_ids integer[];
    counts bigint[];
    total bigint := 0;
    running bigint := 0;
    rank double precision;
    i integer;
BEGIN
    SELECT array_agg(split_part(pair, ':', 1)::integer ORDER BY split_part(pair, ':', 1)::integer),
           array_agg(split_part(pair, ':', 2)::bigint ORDER BY split_part(pair, ':', 1)::integer)
      INTO bucket_ids, counts
      FROM unnest(string_to_array(buckets, ',')) AS pair;
    IF counts IS NULL THEN
        RETURN NULL;
    END IF;
    FOR i IN 1 .. array_length(counts, 1) LOOP
        total := total + counts[i];
    END LOOP;
    rank := floor(q * (total - 1));
    FOR i IN 1 .. array_length(counts, 1) LOOP
        running := running + counts[i];
        IF running > rank THEN
            IF bucket_ids[i] = ${sketch_zero_bucket} THEN
                RETURN 0;
            END IF;
            RETURN 2 * exp(bucket_ids[i] * ${sketch_ln_gamma}) / (${sketch_gamma} + 1);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TABLE latency_sketch (
    service       text             NOT NULL,
    window_start  timestamp(3)     NOT NULL,
    buckets       text             NOT NULL,
    p50           double precision GENERATED ALWAYS AS (latency_sketch_quantile(buckets, 0.5)) STORED,
    p95           double precision GENERATED ALWAYS AS (latency_sketch_quantile(buckets, 0.95)) STORED,
    p99           double precision GENERATED ALWAYS AS (latency_sketch_quantile(buckets, 0.99)) STORED,
    PRIMARY KEY (service, window_start)
);

CREATE INDEX latency_sketch_window_start_idx ON latency_sketch (window_start);

CREATE VIEW latency_sketch_buckets AS
SELECT service, window_start,
       split_part(pair, ':', 1)::integer AS bucket,
       split_part(pair, ':', 2)::bigint AS count
FROM latency_sketch, unnest(string_to_array(buckets, ',')) AS pair;
