-- Raw messages of one service in [:start_ts, :end_ts) that may belong to a template: :like holds
-- the template's constant words in order (a prefilter; the caller keeps the messages that fit).
SELECT message
FROM (${raw_logs}) r
WHERE ts >= CAST(:start_ts AS timestamp(3))
  AND ts < CAST(:end_ts AS timestamp(3))
  AND service = :service
  AND message LIKE :like ESCAPE '\'
LIMIT :sample
