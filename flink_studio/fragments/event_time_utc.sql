-- The log's `timestamp` in UTC, to the millisecond (NULL when it cannot be read): the local time
-- (T or a space; fractional digits cut to milliseconds), minus its offset (Z or none: UTC).
-- Inserted where 01_source_log_input.sql says ${event_time_utc} (computed columns cannot refer to
-- each other).
TIMESTAMPADD(MINUTE,
  CASE WHEN REGEXP(`timestamp`, '[+-][0-9]{2}:[0-9]{2}$')
       THEN (CASE WHEN SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`) - 5, 1) = '-' THEN 1 ELSE -1 END)
            * (CAST(SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`) - 4, 2) AS INT) * 60
               + CAST(SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`) - 1, 2) AS INT))
       ELSE 0 END,
  TO_TIMESTAMP(SUBSTR(REGEXP_REPLACE(REPLACE(`timestamp`, 'T', ' '), '(Z|z|[+-][0-9]{2}:[0-9]{2})$', ''), 1, 23)))
