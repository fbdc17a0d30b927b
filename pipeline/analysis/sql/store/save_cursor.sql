-- The miner's cursor and Drain state, in the transaction of the counts they account for.
INSERT INTO template_mining AS s (source, mined_until, logs_mined, state, updated_at)
VALUES (%(source)s, %(mined_until)s, %(logs)s, %(state)s, now())
ON CONFLICT (source) DO UPDATE SET
    mined_until = EXCLUDED.mined_until,
    logs_mined = s.logs_mined + EXCLUDED.logs_mined,
    state = EXCLUDED.state,
    updated_at = now()
