-- Where mining of a source stopped, and the Drain state to go on with (no row: nothing mined yet).
-- FOR UPDATE: a second miner of the source waits for the first one's step, then sees it moved.
SELECT mined_until, logs_mined, state FROM template_mining WHERE source = %(source)s FOR UPDATE
