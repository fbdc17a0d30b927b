-- The log's `timestamp` as milliseconds since 1970-01-01 UTC (NULL when it cannot be read): the date
-- (characters 1-10, a strict cast: no 2026-02-30) as days since 1970, then the time of day, the
-- milliseconds, minus the zone's offset. Integer arithmetic on the digits rather than TO_TIMESTAMP:
-- its date-time parser allocates on every call and was the job's largest cost.
CAST(TIMESTAMPDIFF(DAY, DATE '1970-01-01', ${log_date}) AS BIGINT) * 86400000
+ TRY_CAST(SUBSTR(`timestamp`, 12, 2) AS INT) * 3600000
+ TRY_CAST(SUBSTR(`timestamp`, 15, 2) AS INT) * 60000
+ TRY_CAST(SUBSTR(`timestamp`, 18, 2) AS INT) * 1000
+ ${milliseconds}
- (${zone_offset_minutes}) * 60000
