-- The offset of the log's `timestamp` from UTC in minutes: +05:30 -> 330, -08:00 -> -480, Z or none
-- -> 0.
CASE WHEN ${has_offset}
     THEN CASE SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`) - 5, 1) WHEN '-' THEN -1 ELSE 1 END
          * (TRY_CAST(SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`) - 4, 2) AS INT) * 60
             + TRY_CAST(SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`) - 1, 2) AS INT))
     ELSE 0 END
