-- Where mining stopped, and the Drain state to go on with (no row: nothing mined yet). FOR UPDATE:
-- a second miner waits for the first one's step instead of mining the same logs.
SELECT mined_until, logs_mined, state FROM template_mining WHERE name = %(name)s FOR UPDATE
