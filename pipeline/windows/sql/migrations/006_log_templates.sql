-- Log templates mined with Drain (pipeline/analysis/drain.py, written by pipeline/analysis/mining.py):
-- every pattern question over any range (top patterns, new and changed ones, "why this window") is
-- answered from these tables, not by scanning raw logs.
--
-- log_templates: one row per template that exists now. A template that generalised (its text, so
--   its id, changed) or was folded into another is deleted, and its counts are moved to the template
--   it became: first_seen/last_seen and the counts carry over, so a template is never "new" because
--   its text widened.
-- template_minutes: per template and UTC minute of the logs' event time, the logs it took and how
--   many of them were server errors (status >= 500).
-- error_field_minutes: per service, minute, field and value, the server errors carrying that value:
--   field 'template_id', 'status', 'host' and any other top-level field of the raw logs with few
--   distinct values (the miner stops storing a field once it has seen too many values of it).
-- Every table is keyed by `source`, the raw logs mined ('<database>.<raw collection>'): two stores of
-- logs (a demo's, a benchmark's) with the same service names keep apart.
-- template_mining: the miner's cursor (everything before mined_until is mined, exactly once) and its
--   Drain state, written in the same transaction as the counts of each step, so a restart goes on
--   where the last committed step ended: nothing is mined twice or lost.

CREATE TABLE log_templates (
    source       text NOT NULL,
    template_id  text NOT NULL,
    service      text NOT NULL,
    template     text NOT NULL,
    first_seen   timestamp(3) NOT NULL,
    last_seen    timestamp(3) NOT NULL,
    sample       text NOT NULL,
    sample_status integer NOT NULL,
    PRIMARY KEY (source, template_id)
);

CREATE TABLE template_minutes (
    source       text NOT NULL,
    template_id  text NOT NULL,
    service      text NOT NULL,
    window_start timestamp(3) NOT NULL,
    logs         bigint NOT NULL,
    errors       bigint NOT NULL,
    PRIMARY KEY (source, window_start, template_id)
);
CREATE INDEX template_minutes_template ON template_minutes (source, template_id, window_start);

CREATE TABLE error_field_minutes (
    source       text NOT NULL,
    service      text NOT NULL,
    window_start timestamp(3) NOT NULL,
    field        text NOT NULL,
    value        text NOT NULL,
    errors       bigint NOT NULL,
    PRIMARY KEY (source, service, window_start, field, value)
);

CREATE TABLE template_mining (
    source       text PRIMARY KEY,
    mined_until  timestamp(3) NOT NULL,
    logs_mined   bigint NOT NULL,
    state        text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
