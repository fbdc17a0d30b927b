"""Log content is data, never markup: logs whose service, message and host carry scripts, ingested
and windowed like any other, give a report in which no script runs and every payload reads as text.

Each script payload, if a browser ran it, appends "PWN-<where>" to the page's title; the script
builds that text ('P'+'WN-...'), so it is in the title only when the script ran. A control page
holding the same payloads as raw HTML proves that this Chromium, run this way, does run them and
that the checks see it. The report's DOM (``--dump-dom``, after the page loaded) must show none of
them ran, hold no element or script made of a log's content (event handlers, ``javascript:``
links), and show every payload as the text it was logged as.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeline.report import make_report
from pipeline.report.notebooks import OUTPUT_DIR
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.windows.tables import delete_services
from tests.fixtures.mongodb import drop_collections
from tests.notebooks.test_report import dump_dom

pytestmark = pytest.mark.stack

DATABASE = "reporttest"
MINUTES = 40
OUTAGE = range(18, 27)  # the minutes of the range in which the payload service fails
PER_MINUTE = 40  # requests per service and minute
SHOWN = 50  # pandas shows at most 50 characters of a table cell (display.max_colwidth)


def _run(where: str) -> str:
    """JavaScript that, if it runs, appends "PWN-<where>" to the page's title."""
    return f"document.title+='P'+'WN-{where}'"


def payloads(token: str) -> dict[str, Any]:
    """The payload service (a mix of HTML and Markdown, shown in Markdown), its messages and host."""
    # At most 128 characters: the record contract's limit for a service name.
    service = f"<img src=x onerror=\"{_run('service')}\">**{token}** <script>{_run('service-script')}</script>"
    messages = [f"<script>{_run('m1')}</script>",
                f"<img src=x onerror=\"{_run('m2')}\">",
                "<a href=\"javascript:alert(1)\">retry</a> now",
                "[retry](javascript:alert(1)) *now* <b>x</b>",
                f"<svg onload=\"{_run('m5')}\">"]
    host = f"<script>{_run('host')}</script>"
    assert all(len(value) <= SHOWN for value in (*messages, host))  # shown whole in the tables
    return {"service": service, "messages": messages, "host": host}


def build_logs(start: dt.datetime, token: str, seed: int = 11) -> list[dict]:
    """MINUTES minutes of three services in time order; the payload service fails during OUTAGE, and
    the first five failures of each minute (those the report samples) carry the five messages."""
    rng = random.Random(seed)
    bad = payloads(token)
    services = [(bad["service"], bad["host"], 180.0), (f"auth-{token}", "auth-1", 25.0),
                (f"search-{token}", "search-1", 60.0)]
    logs = []
    for minute in range(MINUTES):
        failures = 0
        for k in range(PER_MINUTE):
            for s, (service, host, median) in enumerate(services):
                at = start + dt.timedelta(minutes=minute, seconds=k * 60 / PER_MINUTE + s * 0.3)
                outage = s == 0 and minute in OUTAGE
                failing = outage and k % 3 != 0
                if failing:
                    message = bad["messages"][failures % len(bad["messages"])]
                    failures += 1
                else:
                    message = f"GET /api/v1/items/{rng.randrange(10**6)} ok"
                logs.append({"timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "service": service,
                             "status": 503 if failing else 200, "message": message,
                             "latency_ms": round(median * rng.lognormvariate(0, 0.3) * (5 if outage else 1), 2),
                             "request_id": f"r{len(logs)}", "host": host,
                             "level": "ERROR" if failing else "INFO"})
    return logs


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **settings.environment()}, check=False)


class Page(HTMLParser):
    """A DOM dump: its title, elements (tag, attributes), script bodies and visible text."""

    def __init__(self, dom: str) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._inside: str | None = None
        self.feed(dom)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))
        if tag in ("title", "script", "style"):
            self._inside = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data: str) -> None:
        {"title": self.title, "script": self.scripts, "style": []}.get(self._inside, self.text).append(data)

    def ran(self) -> list[str]:
        """What the payloads' scripts wrote into the title: "PWN-<where>" for each that ran."""
        return sorted(re.findall(r"PWN-[\w-]+?(?=PWN|$)", "".join(self.title).strip()))

    def markup_from_logs(self) -> list[str]:
        """Elements and scripts a log's content became: an event handler or a script of a payload, a
        javascript: link."""
        found = [f"<{tag} {name}={value[:40]!r}>" for tag, attrs in self.elements for name, value in attrs.items()
                 if (name.startswith("on") and ("'WN-" in value or "alert(" in value))
                 or value.strip().lower().startswith("javascript:")]
        return found + [f"<script>{body[:40]}" for body in self.scripts if "'WN-" in body]


def dom(page: Path, tmp_path: Path) -> Page:
    return Page(dump_dom(page, tmp_path))


@pytest.fixture(scope="module")
def payload_report(stack, tmp_path_factory):
    """The payload logs in a range of their own: Kinesis -> trigger + handler -> MongoDB, Flink
    windows -> PostgreSQL, then ``make_report`` for the range."""
    token = uuid.uuid4().hex[:10]
    name = f"xss{token}"
    settings = stack.model_copy(update={"stream_name": name, "function_name": f"fn-{name}",
                                        "mongodb_database": DATABASE, "raw_collection": name})
    rng = random.Random()
    start = dt.datetime(2019, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=rng.randrange(2000), hours=rng.randrange(24))
    end = start + dt.timedelta(minutes=MINUTES)
    logs = build_logs(start, token)
    kinesis = boto3.client("kinesis", **stack.boto3_kwargs())
    kinesis.create_stream(StreamName=name, ShardCount=1)  # one shard, in time order: no record is late
    try:
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
        for i in range(0, len(logs), 500):
            reply = kinesis.put_records(StreamName=name, Records=[
                {"Data": json.dumps(log).encode(), "PartitionKey": "k"} for log in logs[i:i + 500]])
            assert reply["FailedRecordCount"] == 0
        ingested = _cli(settings, "lambda", "run", "--until-idle")
        assert ingested.returncode == 0, ingested.stdout + ingested.stderr
        windowed = _cli(settings, "flink", "run", "--bounded", "--stream", name, "--name", name, "--parallelism", "1")
        assert windowed.returncode == 0, windowed.stdout + windowed.stderr
        output = tmp_path_factory.mktemp("xss") / "report.html"
        make_report(settings, start, end, output=output)
        yield payloads(token), output
    finally:
        kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        drop_collections(settings, DATABASE, name)
        delete_services(settings, token)
        # what the trigger, the job and the report leave behind, all named after this run
        shutil.rmtree(settings.var_dir / "trigger" / settings.function_name, ignore_errors=True)
        (settings.run_dir / f"flink-{name}.json").unlink(missing_ok=True)
        (OUTPUT_DIR / f"06_incident_report-{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}.ipynb").unlink(missing_ok=True)


def test_the_control_page_runs_the_payloads(tmp_path):
    """The same payloads as raw HTML do run in this Chromium, run this way: the checks below see them."""
    bad = payloads("control")
    page = tmp_path / "control.html"
    page.write_text(f"<html><head><title>control</title></head><body><h3>{bad['service']}</h3>"
                    + "".join(f"<p>{m}</p>" for m in bad["messages"]) + f"<p>{bad['host']}</p></body></html>",
                    encoding="utf-8")
    control = dom(page, tmp_path)
    assert control.ran() == ["PWN-host", "PWN-m1", "PWN-m2", "PWN-m5", "PWN-service",
                             "PWN-service-script"]
    assert len(control.markup_from_logs()) >= 6


def test_no_script_from_a_log_runs_in_the_report(payload_report, tmp_path):
    bad, output = payload_report
    found = json.loads(output.with_suffix(".incidents.json").read_text())
    assert [incident["service"] for incident in found] == [bad["service"]]  # so the incident section is shown

    page = dom(output, tmp_path)
    assert page.ran() == [], "a script from a log ran in the report"
    assert page.markup_from_logs() == [], "a log's content became markup in the report"

    text = "".join(page.text)
    heading = re.search(re.escape(bad["service"]) + r": \d\d:\d\d to \d\d:\d\d UTC", text)
    assert heading, "the incident's heading does not show the service name as it was logged"
    assert f"{bad['service']}: 5xx rate up to" in text  # the evidence, as it was logged
    assert text.count(bad["service"][:40]) >= 5  # heading, evidence and the tables (which cut it short)
    for value in (*bad["messages"], bad["host"]):
        assert value in text, f"{value!r} is not shown as text"  # the sample raw logs
