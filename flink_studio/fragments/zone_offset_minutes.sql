-- The offset of the log's `timestamp` from UTC in minutes: +05:30 -> 330, -08:00 -> -480, Z or none
-- -> 0. An offset is always the last six characters.
CASE SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`) - 5, 1)
  WHEN '+' THEN 1 WHEN '-' THEN -1 ELSE 0 END
* CASE WHEN SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`) - 5, 1) IN ('+', '-')
       THEN TRY_CAST(SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`) - 4, 2) AS INT) * 60
            + TRY_CAST(SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`) - 1, 2) AS INT)
       ELSE 0 END
