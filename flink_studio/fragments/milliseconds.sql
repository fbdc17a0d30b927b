-- The milliseconds of the log's `timestamp`: the first three fractional digits, right-padded
-- (.5 -> 500, .123456789 -> 123); 0 without a fraction. The fraction starts at character 21, after
-- the '.', and ends before the zone (Z: one character, an offset: six).
CASE WHEN SUBSTR(`timestamp`, 20, 1) = '.'
     THEN TRY_CAST(RPAD(SUBSTR(`timestamp`, 21, LEAST(3, GREATEST(0, CHAR_LENGTH(`timestamp`) - 20
            - CASE WHEN ${has_offset} THEN 6
                   WHEN SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`), 1) IN ('Z', 'z') THEN 1
                   ELSE 0 END))), 3, '0') AS INT)
     ELSE 0 END
