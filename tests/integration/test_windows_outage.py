"""PostgreSQL restarted under a live window job: the JDBC sinks fail, the job restarts from its last
checkpoint (with backoff, without limit) until the database is back, and every window is complete
afterwards, none doubled (rows are upserted by key)."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request
from collections import Counter

import pytest

from pipeline import windows
from pipeline.common import aws
from pipeline.stack.postgres import PostgresService
from pipeline.windows.tables import delete_services
from tests.fixtures.windows import window_counts

pytestmark = pytest.mark.stack
BASE = dt.datetime(2026, 11, 27, 8, 0)  # in the past: no stamp is capped as clock skew
OUTAGE_S = 25


def _records(prefix: str, minutes: range, per_minute: int) -> list[tuple[str, dt.datetime, bytes]]:
    out = []
    for minute in minutes:
        for k in range(per_minute):
            at = BASE + dt.timedelta(minutes=minute, seconds=k * 59 / per_minute)
            service = f"{prefix}-{'ab'[k % 2]}"
            data = json.dumps({"timestamp": at.isoformat(timespec="milliseconds") + "Z", "service": service,
                               "status": (200, 503)[k % 5 == 0], "message": f"m{minute}-{k}", "latency_ms": k % 90})
            out.append((service, at.replace(second=0, microsecond=0), data.encode()))
    return out


def _put(settings, stream: str, records: list[tuple[str, dt.datetime, bytes]]) -> None:
    client = aws.client(settings, "kinesis")
    for start in range(0, len(records), 500):
        chunk = records[start:start + 500]
        response = client.put_records(StreamName=stream, Records=[
            {"Data": data, "PartitionKey": service} for service, _, data in chunk])
        assert response["FailedRecordCount"] == 0



def _restarts(job_state: dict) -> int:
    url = f"http://127.0.0.1:{job_state['rest_port']}/jobs/{job_state['job_id']}/metrics?get=numRestarts"
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(float(json.load(response)[0]["value"]))


def test_postgres_restarted_under_a_live_job_leaves_every_window_complete(stack, unique_name):
    settings = stack.model_copy(update={"flink_checkpoint_interval_s": 2.0, "flink_restart_max_backoff_s": 4.0})
    kinesis = aws.client(settings, "kinesis")
    kinesis.create_stream(StreamName=unique_name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})
    postgres = PostgresService(settings)
    before = _records(unique_name, range(0, 3), 40)
    during = _records(unique_name, range(3, 6), 40)
    closer = _records(unique_name, range(9, 10), 2)  # moves the watermark past minute 5
    sent = Counter((service, minute) for service, minute, _ in before + during)
    try:
        _put(settings, unique_name, before)
        run = windows.run_job(settings, name=unique_name, stream=unique_name, parallelism=1, say=lambda _: None)
        deadline = time.monotonic() + 180
        first = {key for key in sent if key[1] < BASE + dt.timedelta(minutes=2)}
        while window_counts(settings, unique_name)[0].keys() < first:
            assert time.monotonic() < deadline, f"the first windows never appeared; see {run.log_path}"
            time.sleep(1)

        assert postgres.stop(), "PostgreSQL of the stack was not running"
        _put(settings, unique_name, during + closer)
        time.sleep(OUTAGE_S)
        postgres.start()
        deadline = time.monotonic() + 60
        while not postgres.ready():
            assert time.monotonic() < deadline, "PostgreSQL did not come back"
            time.sleep(0.5)

        closer_minutes = {minute for _, minute, _ in closer}

        def arrived(received: Counter) -> Counter:
            return +Counter({k: n for k, n in received.items() if k[1] not in closer_minutes})

        # The window tables and minute_arrivals are separate sinks, flushed on their own: wait for both.
        deadline = time.monotonic() + 240
        while True:
            counted, _, received = window_counts(settings, unique_name)
            if (counted == sent and arrived(received) == sent) or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert counted == sent, f"windows after the restart differ: {sorted((sent - counted) + (counted - sent))}"
        assert arrived(received) == sent  # none twice, none missing
        assert _restarts(run.state) >= 1, "the job never failed: the outage did not reach it"
    finally:
        if not postgres.running():
            postgres.start()
        windows.stop_jobs(settings, unique_name)
        kinesis.delete_stream(StreamName=unique_name)
        delete_services(settings, unique_name)
