"""Template mining end to end: generated logs stored as the Lambda stores them, mined from MongoDB into
PostgreSQL in one step, in two steps, and by a miner killed mid-way and run again; all three store the
same templates and counts, and those counts are exactly the logs stored. Then the pattern questions
(top, new, why, values, the CLI) over what was mined, through Trino."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pandas as pd
import psycopg2
import pytest

from pipeline.analysis.mine_stored import mine_stored
from pipeline.analysis.pattern_queries import new_templates, template_values, top_templates, why
from pipeline.analysis.template_store import source_name
from pipeline.generate.generator import GeneratorConfig, LogGenerator
from pipeline.generate.scenarios import make_scenario
from pipeline.settings import PROJECT_ROOT
from pipeline.windows import schema
from pipeline.windows.tables import delete_services
from tests.fixtures.mongodb import drop_collections, store_records

pytestmark = pytest.mark.stack

DATABASE = "templatestest"
HOURS = 3
COUNT = 18_000
INCIDENT_START_MIN, INCIDENT_MIN = 140, 25
NEW_ERROR_START = "schema mismatch in"


@pytest.fixture(scope="module")
def world(stack):
    """Three sources of the same generated logs (services prefixed per source), stored in MongoDB."""
    schema.apply(stack)
    tag = f"tm{random.randrange(16**8):08x}"
    # In the past (mining takes closed time only), on a whole hour, away from other tests' data.
    base = dt.datetime(2021, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=random.randrange(24 * 1000))
    scenario = make_scenario("new-error", {"start_min": str(INCIDENT_START_MIN), "duration_min": str(INCIDENT_MIN),
                                          "error_rate": "0.15"})
    config = GeneratorConfig(count=COUNT, seed=7, start=base, end=base + dt.timedelta(hours=HOURS), scenario=scenario)
    records = [event.record for event in LogGenerator(config)]
    sources = {}
    for kind in ("one", "two", "kill"):
        prefix = f"{tag}{kind}"
        settings = stack.model_copy(update={"mongodb_database": DATABASE, "raw_collection": prefix})
        store_records(settings, ({**r, "service": f"{prefix}-{r['service']}"} for r in records))
        sources[kind] = (settings, prefix)
    yield {"sources": sources, "records": records, "base": base.replace(tzinfo=None),
           "end": (base + dt.timedelta(hours=HOURS)).replace(tzinfo=None),
           "incident": (base + dt.timedelta(minutes=INCIDENT_START_MIN)).replace(tzinfo=None)}
    for settings, prefix in sources.values():
        drop_collections(settings, DATABASE, prefix)
    delete_services(stack, tag)


def _stored(settings, prefix: str) -> dict[str, pd.DataFrame]:
    """What the miner stored for a source, with the source's prefix taken off the service names."""
    like = f"{prefix}-%"
    queries = {
        "templates": "SELECT service, template, first_seen, last_seen, sample, sample_status FROM log_templates "
                     "WHERE service LIKE %(like)s",
        "minutes": "SELECT t.service, t.template, m.window_start, m.logs, m.errors FROM template_minutes m "
                   "JOIN log_templates t USING (template_id) WHERE m.service LIKE %(like)s",
        "fields": "SELECT service, window_start, field, value, errors FROM error_field_minutes "
                  "WHERE service LIKE %(like)s",
    }
    out = {}
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        for name, sql in queries.items():
            cur.execute(sql, {"like": like})
            frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
            frame["service"] = frame["service"].str.removeprefix(f"{prefix}-")
            out[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    conn.close()
    return out


def _cursor(settings) -> dt.datetime | None:
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("SELECT mined_until FROM template_mining WHERE source = %s", (source_name(settings),))
        row = cur.fetchone()
    conn.close()
    return row[0] if row else None


def test_one_step_two_steps_and_a_killed_miner_store_the_same(world):
    end, base = world["end"], world["base"]
    one, one_prefix = world["sources"]["one"]
    report = mine_stored(one, end, progress=False)
    assert report.logs == COUNT and report.mined_until == end

    # Every stored log counted once, in its service and minute.
    stored = _stored(one, one_prefix)
    expected = Counter((r["service"], dt.datetime.fromisoformat(r["timestamp"]).replace(
        tzinfo=None, second=0, microsecond=0)) for r in world["records"])
    got = stored["minutes"].groupby(["service", "window_start"])["logs"].sum()
    assert {key: int(value) for key, value in got.items()} == dict(expected)
    errors = sum(1 for r in world["records"] if r["status"] >= 500)
    assert int(stored["minutes"]["errors"].sum()) == errors
    status_rows = stored["fields"][stored["fields"]["field"] == "status"]
    assert int(status_rows["errors"].sum()) == errors
    assert set(stored["fields"]["field"]) >= {"status", "host", "level"}

    # Two steps, split inside an hour: the same as one.
    two, two_prefix = world["sources"]["two"]
    middle = base + dt.timedelta(minutes=97)
    first = mine_stored(two, middle, progress=False)
    second = mine_stored(two, end, progress=False)
    assert (first.mined_until, second.started_from, second.mined_until) == (middle, middle, end)
    assert first.logs + second.logs == COUNT
    again = mine_stored(two, end, progress=False)
    assert again.steps == 0 and again.logs == 0  # nothing is mined twice
    for name, frame in _stored(two, two_prefix).items():
        pd.testing.assert_frame_equal(frame, stored[name], obj=name)

    # A miner killed after its first committed hour; the next run goes on from the cursor.
    kill, kill_prefix = world["sources"]["kill"]
    env = {**os.environ, "WB_MONGODB_DATABASE": DATABASE, "WB_RAW_COLLECTION": kill.raw_collection}
    process = subprocess.Popen([sys.executable, "-m", "pipeline", "analysis", "mine", "--quiet",
                                "--until", end.isoformat() + "Z"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _cursor(kill) is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    killed_at = _cursor(kill)
    assert killed_at is not None and killed_at < end, f"the miner was not killed mid-way (cursor {killed_at})"
    rest = mine_stored(kill, end, progress=False)
    assert rest.started_from == killed_at and rest.mined_until == end
    for name, frame in _stored(kill, kill_prefix).items():
        pd.testing.assert_frame_equal(frame, stored[name], obj=name)


def test_pattern_questions_over_the_mined_templates(world):
    one, prefix = world["sources"]["one"]
    mine_stored(one, world["end"], progress=False)  # mined by the test above, or now
    service = f"{prefix}-checkout"
    start = world["incident"]
    end = start + dt.timedelta(minutes=INCIDENT_MIN)

    top = top_templates(one, start, end, top=3, services=[service])
    assert top.iloc[0]["template"].startswith(NEW_ERROR_START), top
    assert top.iloc[0]["errors"] == sum(1 for r in world["records"] if r["message"].startswith(NEW_ERROR_START))

    new = new_templates(one, start, end, services=[service])
    assert new["template"].str.startswith(NEW_ERROR_START).any(), new
    quiet_hour = new_templates(one, world["base"] + dt.timedelta(hours=1), world["base"] + dt.timedelta(hours=2),
                               services=[service])
    assert not quiet_hour["template"].str.startswith(NEW_ERROR_START).any()

    ranked = why(one, service, start, end, baseline=dt.timedelta(minutes=INCIDENT_START_MIN))
    assert ranked.iloc[0]["field"] == "template_id" and bool(ranked.iloc[0]["significant"]), ranked.head()
    assert ranked.iloc[0]["template"].startswith(NEW_ERROR_START)
    assert ranked.iloc[0]["baseline_errors"] == 0 and ranked.iloc[0]["window_share"] > 0.5

    values = template_values(one, top.iloc[0]["template_id"], start, end)
    assert values.summary.matched == top.iloc[0]["errors"]
    handlers = {value for position in values.summary.positions for value, _ in position.top}
    assert handlers & {"RequestHandler.process:", "OrderService.place:", "TokenService.refresh:"}, values

    env = {**os.environ, "WB_MONGODB_DATABASE": DATABASE, "WB_RAW_COLLECTION": one.raw_collection}
    done = subprocess.run([sys.executable, "-m", "pipeline", "analysis", "why", "--service", service,
                           "--start", start.isoformat() + "Z", "--end", end.isoformat() + "Z", "--format", "json"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert rows[0]["field"] == "template_id" and rows[0]["template"].startswith(NEW_ERROR_START)
