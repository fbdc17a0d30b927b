"""The incident report: checked against a scenario's ground truth, and rendered in a real browser."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pymongo import MongoClient

from pipeline.analysis.template_store import forget
from pipeline.settings import PROJECT_ROOT

pytestmark = pytest.mark.stack

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _cli(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})}, check=False)


def chromium(tmp_path: Path) -> list[str]:
    """Debian's headless Chromium, with a profile of its own under ``tmp_path``."""
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is needed for this test: 'make test' installs it (apt-get install chromium)"
    return [binary, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]


def dump_dom(page: Path, tmp_path: Path) -> str:
    """The page's DOM once Chromium has loaded it (its scripts, if any, have run)."""
    return subprocess.run([*chromium(tmp_path), "--dump-dom", page.as_uri()], capture_output=True, text=True,
                          timeout=120, check=True).stdout


@pytest.fixture(scope="module")
def scenario_report(stack, tmp_path_factory):
    """A payment-outage in a past hour of its own, ingested through the trigger, and its report."""
    import boto3

    rng = random.Random()
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=rng.randrange(300), hours=rng.randrange(20))
    end = start + dt.timedelta(minutes=40)
    name = f"report{rng.randrange(10**8)}"
    # Its own database: the report mines the raw logs of its source from the first one stored.
    env = {"WB_STREAM_NAME": name, "WB_FUNCTION_NAME": f"fn-{name}", "WB_MONGODB_DATABASE": name}
    kinesis = boto3.client("kinesis", **stack.boto3_kwargs())
    kinesis.create_stream(StreamName=name, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    iso = "%Y-%m-%dT%H:%M:%SZ"
    generated = _cli("generate", "--scenario", "payment-outage", "--count", "16000", "--seed", "5", "--no-progress",
                     "--start", start.strftime(iso), "--end", end.strftime(iso), "-p", "start_min=15",
                     "-p", "duration_min=8", env=env)
    assert generated.returncode == 0, generated.stderr
    run_id = generated.stdout.strip().splitlines()[-1].split("run_id: ")[1]
    truth = json.loads((stack.var_dir / "runs" / run_id / "ground_truth.json").read_text())
    ingested = _cli("lambda", "run", "--until-idle", env=env)
    assert ingested.returncode == 0, ingested.stderr
    # A backfill read from two shards at once: one shard may run minutes ahead of the other, so the
    # bound covers the whole range (as the demo's does) and no record of it is late.
    counted = _cli("flink", "run", "--bounded", "--stream", name, "--name", name, "--parallelism", "1",
                   "--watermark-bound", str(int((end - start).total_seconds())), env=env)
    assert counted.returncode == 0, counted.stdout + counted.stderr
    output = tmp_path_factory.mktemp("report") / "report.html"
    report = _cli("report", "--start", start.strftime(iso), "--end", end.strftime(iso), "--output", str(output),
                  env=env)
    assert report.returncode == 0, report.stdout + report.stderr
    yield truth, output
    kinesis.delete_stream(StreamName=name)
    with MongoClient(stack.mongo_uri) as client:
        client.drop_database(name)
    forget(stack.model_copy(update={"mongodb_database": name}))  # the templates mined from its raw logs


def test_the_report_finds_the_injected_incident_and_nothing_else(scenario_report):
    truth, output = scenario_report
    found = json.loads(output.with_suffix(".incidents.json").read_text())

    assert "figures from the windows" in output.read_text()  # the Flink job's tables, not the raw logs
    assert "16,000 counted in windows, 0 late" in output.read_text()
    assert len(found) == 1, found
    (incident,) = found
    assert incident["service"] == truth["incident"]["service"]
    injected_start = dt.datetime.fromisoformat(truth["incident"]["start"].replace("Z", ""))
    injected_end = dt.datetime.fromisoformat(truth["incident"]["end"].replace("Z", ""))
    reported_start = dt.datetime.fromisoformat(incident["start"].replace("Z", ""))
    reported_end = dt.datetime.fromisoformat(incident["end"].replace("Z", ""))
    assert abs(reported_start - injected_start) <= dt.timedelta(minutes=1)
    assert abs(reported_end - injected_end) <= dt.timedelta(minutes=1)

    page = output.read_text()
    assert "the templates count all 16,000 raw logs of the range" in page  # mined while the report ran
    for section in ("Top error templates", "New templates", "Why this window"):
        assert section in page


def test_the_report_renders_its_charts_in_a_real_browser(scenario_report, tmp_path):
    _, output = scenario_report
    dom = dump_dom(output, tmp_path)
    screenshot = tmp_path / "report.png"
    subprocess.run([*chromium(tmp_path), "--window-size=1200,3000", f"--screenshot={screenshot}", output.as_uri()],
                   capture_output=True, timeout=120, check=True)

    assert dom.count("<img") >= 1 and "data:image/png;base64," in dom  # the incident chart, embedded
    assert "Incident report" in dom and "In [" not in dom  # prose and results, no code cells
    pixels = np.asarray(Image.open(screenshot).convert("L"), dtype=float)
    assert pixels.std() > 10, "the page rendered blank"
    assert (pixels < 128).mean() > 0.01  # lines, axes and text were drawn


def test_an_invalid_range_is_refused_with_a_clear_message():
    result = _cli("report", "--start", "2026-11-27T10:00Z", "--end", "2026-11-27T09:00Z")
    assert result.returncode == 2
    assert "not after --start" in result.stderr


def test_an_empty_range_is_refused_with_what_to_do(stack):
    result = _cli("report", "--start", "2001-01-01T00:00Z", "--end", "2001-01-01T01:00Z")
    assert result.returncode == 1
    assert "no raw logs between" in result.stderr and "python -m pipeline generate" in result.stderr


def test_a_stack_that_is_down_is_named(tmp_path):
    def free() -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return str(probe.getsockname()[1])

    env = {"WB_VAR_DIR": str(tmp_path), "WB_MONGO_PORT": free(), "WB_POSTGRES_PORT": free(), "WB_TRINO_PORT": free(),
           "WB_KINESIS_PORT": free()}
    result = _cli("report", "--start", "2026-11-27T10:00Z", "--end", "2026-11-27T11:00Z", env=env)
    assert result.returncode == 1
    assert "the stack is down" in result.stderr and "make up" in result.stderr
    assert not Path(tmp_path / "postgres").exists()
