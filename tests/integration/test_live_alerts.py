"""Alerts against the running stack: an outage's logs stored as the Lambda stores them and its windows
(service_minute_stats, latency_sketch, error_summary) as the Flink job writes them, then the watcher's
evaluations at moments stepping through the outage. Exactly one "opened" and one "resolved" reach the
queue subscribed to the SNS topic, with their evidence; evaluating again (a restarted watcher) sends
nothing; a run without incident sends nothing."""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import urllib.parse

import pandas as pd
import psycopg2
import pytest
from psycopg2.extras import execute_values
from pymongo import MongoClient

from pipeline.analysis.template_store import source_name
from pipeline.bench.window_rows import insert_minute_stats, insert_sketches, minute_stats
from pipeline.common.aws import client
from pipeline.generate.generator import GeneratorConfig, LogGenerator
from pipeline.generate.scenarios import make_scenario
from pipeline.live.alerts import evaluate, recent_alerts
from pipeline.live.channel import ensure_channel, receive
from pipeline.settings import PROJECT_ROOT
from pipeline.windows import schema
from pipeline.windows.tables import delete_services
from tests.fixtures.mongodb import store_records

pytestmark = pytest.mark.stack

HOURS, RATE = 3, 5.0
OUTAGE_START_MIN, OUTAGE_MIN = 150, 10


def _world(stack, scenario_name: str, params: dict[str, str]):
    tag = f"al{random.randrange(16**8):08x}"
    settings = stack.model_copy(update={"mongodb_database": tag, "alerts_topic_name": tag, "alerts_queue_name": tag})
    now = dt.datetime.now(dt.UTC)
    base = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=HOURS + 2)
    config = GeneratorConfig(count=int(HOURS * 3600 * RATE), seed=4, start=base, end=base + dt.timedelta(hours=HOURS),
                             scenario=make_scenario(scenario_name, params))
    records = [{**e.record, "service": f"{tag}-{e.record['service']}"} for e in LogGenerator(config)]
    schema.apply(settings)
    store_records(settings, records)
    logs = pd.DataFrame({"service": [r["service"] for r in records],
                         "minute": pd.to_datetime([r["timestamp"] for r in records]).tz_localize(None).floor("min"),
                         "status": [r["status"] for r in records], "latency_ms": [r["latency_ms"] for r in records],
                         "skewed": 0})
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        insert_minute_stats(cur, minute_stats(logs))
        insert_sketches(cur, logs)
        errors = logs[logs["status"] >= 500].groupby(["service", "minute"])["latency_ms"].agg(["size", "mean"])
        execute_values(cur, "INSERT INTO error_summary (service, window_start, total_errors, avg_latency) VALUES %s",
                       [(s, m.to_pydatetime(), int(n), float(avg)) for (s, m), (n, avg) in errors.iterrows()])
    conn.close()
    return settings, tag, base.replace(tzinfo=None)


def _cleanup(settings, tag: str) -> None:
    delete_services(settings, tag)
    with MongoClient(settings.mongo_uri) as mongo:
        mongo.drop_database(tag)
    channel = ensure_channel(settings)
    client(settings, "sns").delete_topic(TopicArn=channel.topic_arn)
    client(settings, "sqs").delete_queue(QueueUrl=channel.queue_url)


@pytest.fixture
def outage(stack):
    settings, tag, base = _world(stack, "payment-outage", {"start_min": str(OUTAGE_START_MIN),
                                                           "duration_min": str(OUTAGE_MIN)})
    yield settings, tag, base
    _cleanup(settings, tag)


def _at(settings, channel, closed: dt.datetime):
    """An evaluation whose windows' closed time is ``closed`` (naive UTC, a whole minute)."""
    lag = dt.timedelta(seconds=settings.watermark_bound_s + settings.alerts_window_settle_s)
    return evaluate(settings, channel, now=(closed + lag).replace(tzinfo=dt.UTC))


def test_an_outage_opens_one_alert_and_resolves_it_once(outage):
    settings, tag, base = outage
    service = f"{tag}-payment"
    start = base + dt.timedelta(minutes=OUTAGE_START_MIN)
    end = start + dt.timedelta(minutes=OUTAGE_MIN)
    channel = ensure_channel(settings)
    minute = dt.timedelta(minutes=1)

    assert _at(settings, channel, start - 10 * minute) == []  # before the outage
    opened = _at(settings, channel, start + 4 * minute)
    assert [(e.kind, e.message["service"]) for e in opened] == [("opened", service)]
    message = opened[0].message
    assert message["start"] == start.strftime("%Y-%m-%dT%H:%M:%SZ"), message["start"]
    assert "5xx rate" in message["evidence"]
    assert len(message["sample_logs"]) == 5 and all(" 5" in line for line in message["sample_logs"])
    assert message["top_templates"] and message["top_contributor"] is not None
    assert message["missing"] == []
    # The link opens the service's drill-down on this service and a range around the incident.
    link = urllib.parse.unquote(message["dashboard"])
    assert link.startswith(f"{settings.dashboards_url}/superset/dashboard/service-drilldown/?native_filters=")
    assert f"val:!('{service}')" in link and f"{start - 30 * minute:%Y-%m-%dT%H:%M:%S}" in link
    assert _at(settings, channel, start + 7 * minute) == []  # still the same incident
    resolved = _at(settings, channel, end + 3 * minute)
    assert [(e.kind, e.message["service"]) for e in resolved] == [("resolved", service)]
    assert resolved[0].message["end"] == end.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _at(settings, channel, end + 5 * minute) == []
    assert _at(settings, channel, end + 5 * minute) == []  # evaluated again, as a restarted watcher would

    # A watcher process started now: the outage ended long ago and was resolved; nothing is news.
    env = {**os.environ, "WB_MONGODB_DATABASE": tag, "WB_ALERTS_TOPIC_NAME": tag, "WB_ALERTS_QUEUE_NAME": tag}
    done = subprocess.run([sys.executable, "-m", "pipeline", "alerts", "watch", "--cycles", "1"], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "opened" not in done.stdout and "resolved" not in done.stdout, done.stdout

    received = []
    for _ in range(5):
        received += receive(settings, channel, wait_s=1)
    assert [(m["kind"], m["service"]) for m in received] == [("opened", service), ("resolved", service)]
    listed = recent_alerts(settings)
    assert listed[["service", "state"]].values.tolist() == [[service, "resolved"]]
    assert source_name(settings) == f"{tag}.raw_logs"


def test_no_incident_no_alert(stack):
    settings, tag, base = _world(stack, "none", {})
    try:
        channel = ensure_channel(settings)
        for minutes in (60, 120, 170, 178):
            assert _at(settings, channel, base + dt.timedelta(minutes=minutes)) == []
        assert receive(settings, channel, wait_s=1) == []
    finally:
        _cleanup(settings, tag)
