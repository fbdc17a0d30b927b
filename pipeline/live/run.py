"""A live run: the whole pipeline at once on fresh traffic, each alert printed as it arrives.

``LiveRun`` starts, each as a process of its own (own session, so a Ctrl-C in the terminal or a
dying notebook kernel does not take it along; a pid file with the start time in ``var/run``; a log
in ``var/log/live/``), in this order:

- the Lambda trigger (``python -m pipeline lambda run``): the stream into raw logs in MongoDB;
- a live Flink window job (``pipeline.windows.process.run_job``; its log in ``var/log/flink/``,
  where ``flink status`` finds it): the stream into the windows in PostgreSQL;
- the alert watcher (``python -m pipeline alerts watch``): closed windows into alerts on SNS;
- one feed per ``FeedPlan`` (``pipeline.live.feed``): live traffic, after the run has sent every
  feed's quiet history merged in time order (``send_history``).

The run writes to a stream of its own (one shard), created at the start and deleted at the end: the trigger
and the Flink job read it from its start, so the history is read before the live traffic and no
other producer's records mix in. It takes its alerts off a queue of its own subscribed to the
alert topic (the usual queue, read by ``alerts tail``, still gets them), and shows only messages
about its services from its history's start on.

The run ends when the feeds are done and then either the grace period is over or nothing is left
to wait for (every feed's incident has opened and every opened incident has resolved). The grace
period (``default_grace_s``) is how long an incident that ends with the traffic still needs to
resolve: the minute in progress, ``alerts_quiet_min`` closed minutes without the incident, closed
time's lag behind now, and the watcher's next evaluation.

Everything it started is stopped by recorded pid at the end, on Ctrl-C and on errors (``LiveRun``
is a context manager); a state file (``var/run/<name>.json``) names the processes, the stream and
the queue, so ``stop_live`` cleans up after a run whose own process was killed.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg2
from botocore.exceptions import BotoCoreError, ClientError
from pymongo import MongoClient

from pipeline.common.aws import client, error_code
from pipeline.common.errors import WorkbenchError
from pipeline.common.files import write_json_atomic
from pipeline.common.templates import sql_file
from pipeline.common.times import iso_z, utc_naive
from pipeline.generate.run import GenerateResult
from pipeline.generate.scenarios import make_scenario
from pipeline.ingest.checkpoints import default_checkpoint_path, lock_path
from pipeline.live.alerts import recent_alerts
from pipeline.live.channel import Channel, ensure_channel, receive
from pipeline.live.dashboards import dashboard_url
from pipeline.live.feed import FeedPlan, send_history
from pipeline.live.latency import AlertLatency, alert_latency, first_failure
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.stack import manager
from pipeline.stack.base import Service, tail
from pipeline.windows.process import FlinkJobProcess, run_job
from pipeline.windows.tables import delete_services

SQL_DIR = Path(__file__).parent / "sql"
NEEDED_SERVERS = ("kinesis", "postgres", "mongodb", "trino", "flink")
DEFAULT_NAME = "live"
GRACE_MARGIN_S = 30.0  # an evaluation's own time (mining, detection, evidence through Trino), with room
WINDOW_POLL_S = 2.0
QUEUE_WAIT_S = 1
_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")


def default_grace_s(settings: Settings) -> float:
    """Seconds after the traffic ends that an incident ending with it still needs to resolve."""
    return (60.0 * (settings.alerts_quiet_min + 1) + settings.alerts_window_settle_s + settings.watermark_bound_s
            + 2 * settings.alerts_interval_s + GRACE_MARGIN_S)


def feed_plan(scenario: str = "payment-outage", *, duration_s: float = 600.0, rate: float = 20.0,
              incident_start_min: int = 3, incident_min: int = 3, history_min: int = 15,
              params: dict[str, str] | None = None, seed: int = 7, prefix: str = "") -> FeedPlan:
    """The feed of a live run; the incident (when the scenario has one) must end within the run.

    Raises WorkbenchError naming the argument that does not fit."""
    params = dict(params or {})
    clash = sorted({"start_min", "duration_min"} & set(params))
    if clash:
        raise WorkbenchError(f"scenario parameter(s) {', '.join(clash)} are set by the live run",
                             "give the incident's start and length with --incident-start / --incident-minutes")
    if incident_start_min < 0 or incident_min < 1:
        raise WorkbenchError(f"the incident needs a start >= 0 and a length >= 1 minute, got {incident_start_min} "
                             f"and {incident_min}")
    try:
        fields = make_scenario(scenario).parameters()
        if "start_min" in fields:
            params |= {"start_min": str(incident_start_min), "duration_min": str(incident_min)}
        plan = FeedPlan(scenario=scenario, params=params, rate=rate, duration_s=duration_s,
                        history_min=history_min, seed=seed, prefix=prefix)
    except ValueError as exc:
        raise WorkbenchError(str(exc), "see 'python -m pipeline live --help'") from exc
    window = plan.incident_minutes
    if window is not None and window[1] * 60 > duration_s:
        raise WorkbenchError(f"the incident ends {window[1]:g} minutes into the live traffic, after its "
                             f"{duration_s / 60:g} minutes: it could not resolve",
                             "lengthen --duration, or start the incident earlier or make it shorter")
    return plan


def isolated(settings: Settings, tag: str) -> tuple[Settings, str]:
    """Settings and a service prefix that keep a run's data apart from everyone else's (tests, a
    notebook's run): its own MongoDB database (so its raw logs, the templates mined from them and
    the alert state, all keyed by that source), its own alert topic (only its watcher publishes
    there), and services named ``<tag>-...`` in the shared window tables. ``forget`` removes them."""
    if not _NAME.fullmatch(tag):
        raise WorkbenchError(f"invalid tag {tag!r}", "use up to 40 lower-case letters, digits and '-'")
    return settings.model_copy(update={"mongodb_database": tag, "alerts_topic_name": tag}), f"{tag}-"


def forget(settings: Settings, tag: str) -> None:
    """Delete what an isolated run left: its services' windows, its MongoDB database, its topic."""
    delete_services(settings, tag)
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as mongo:
        mongo.drop_database(tag)
    sns = client(settings, "sns")
    sns.delete_topic(TopicArn=sns.create_topic(Name=tag)["TopicArn"])


def require_stack(settings: Settings) -> None:
    """The servers a live run needs answer; WorkbenchError naming ``make up`` otherwise."""
    if not settings.is_local:
        return
    rows = {row.name: row for row in manager.status(settings)}
    down = [name for name in NEEDED_SERVERS if name not in rows or not rows[name].ok]
    if down:
        raise WorkbenchError(f"the local stack is not up ({', '.join(down)} down)",
                             "start it with 'make up' (see 'make status')")


@dataclass(frozen=True)
class LiveAlert:
    """An alert taken off the run's queue."""

    kind: str  # "opened" or "resolved"
    service: str
    start: str
    end: str
    evidence: str
    message: dict[str, Any]
    received_at: dt.datetime  # aware UTC

    @classmethod
    def from_message(cls, message: dict[str, Any], received_at: dt.datetime) -> LiveAlert:
        return cls(str(message["kind"]), str(message["service"]), str(message["start"]), str(message["end"]),
                   str(message.get("evidence", "")), message, received_at)

    @property
    def key(self) -> tuple[str, str]:
        """The incident the alert is about: its opening and its resolution share it."""
        return self.service, self.start

    def line(self) -> str:
        """One line: kind, service, start, evidence."""
        return f"{self.kind:<8} {self.service} start {self.start} {self.evidence}"


@dataclass(frozen=True)
class LiveResult:
    name: str
    alerts: tuple[LiveAlert, ...]
    incidents: tuple[dict[str, Any], ...]  # each feed's incident, from its ground truth
    latencies: tuple[AlertLatency, ...]
    interrupted: bool = False

    def of_kind(self, kind: str) -> list[LiveAlert]:
        return [alert for alert in self.alerts if alert.kind == kind]


def nothing_left(alerts: Sequence[LiveAlert], expected_services: set[str]) -> bool:
    """Every expected incident has opened, and every opened incident has resolved."""
    opened = {a.key for a in alerts if a.kind == "opened"}
    resolved = {a.key for a in alerts if a.kind == "resolved"}
    return expected_services <= {service for service, _ in opened} and opened <= resolved


class LiveProcess(Service):
    """One process of a live run (the trigger, the watcher, a feed); the stack's pid-file handling."""

    stands_in_for = "a process of a live run"
    port_setting = "postgres_port"  # unused: it listens on no port
    # A job, not a server: it reads Kinesis with the caller's AWS credential chain, so it keeps the
    # caller's environment, with the run's settings on top (as WB_* variables).
    inherit_environment = True

    def __init__(self, settings: Settings, name: str, argv: Sequence[str] = ()) -> None:
        super().__init__(settings)
        self.name = name
        self.argv = tuple(argv)

    @property
    def log_path(self) -> Path:
        return self.settings.log_dir / "live" / f"{self.name}.log"

    @property
    def state_path(self) -> Path:
        return self.settings.run_dir / f"{self.name}.json"

    def install(self) -> None:
        """Nothing to install: the environment has the package."""

    def ready(self) -> bool:
        return self.running()

    def command(self) -> tuple[Sequence[str], dict[str, str], Path]:
        return [sys.executable, *self.argv], self.settings.environment(), PROJECT_ROOT


class LiveRun:
    """A live run to start, follow and stop step by step (``run_live`` does all three)."""

    def __init__(self, settings: Settings, feeds: Sequence[FeedPlan], *, name: str = DEFAULT_NAME,
                 grace_s: float | None = None, say: Callable[[str], None] = print) -> None:
        if not _NAME.fullmatch(name):
            raise WorkbenchError(f"invalid live run name {name!r}", "use up to 40 lower-case letters, digits and '-'")
        if not feeds:
            raise WorkbenchError("a live run needs at least one feed")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dt%H%M%S")
        self.name = name
        self.stream = f"{name}-{stamp}"
        self.settings = settings.model_copy(update={"alerts_queue_name": f"{name}-{stamp}"})
        self.feeds = tuple(feeds)
        self.grace_s = default_grace_s(settings) if grace_s is None else grace_s
        self.say = say
        self.since = utc_naive(dt.datetime.now(dt.UTC)).replace(second=0, microsecond=0) - dt.timedelta(
            minutes=max(f.history_min for f in feeds) + 1)
        self.services = sorted({p.name for f in feeds for p in f.services()})
        self.trigger = LiveProcess(self.settings, f"{name}-trigger", ["-m", "pipeline", "lambda", "run",
                                                                      "--stream", self.stream])
        self.watcher = LiveProcess(self.settings, f"{name}-alerts", ["-m", "pipeline", "alerts", "watch"])
        self.feed_processes: list[LiveProcess] = []
        for number, plan in enumerate(self.feeds, start=1):
            feed = LiveProcess(self.settings, f"{name}-feed" + (f"-{number}" if len(self.feeds) > 1 else ""))
            feed.argv = ("-m", "pipeline.live.feed", "--plan", plan.to_json(), "--stream", self.stream,
                         "--state", str(feed.state_path))
            self.feed_processes.append(feed)
        self.channel: Channel | None = None
        self.alerts: list[LiveAlert] = []
        self.window_seen: dict[tuple[str, dt.datetime], dt.datetime] = {}
        self._windows: dict[tuple[str, dt.datetime], tuple[int, int]] = {}
        self._windows_polled = 0.0
        self._feeds_done_at: float | None = None
        self.history: list[GenerateResult] = []  # one per feed with a history, in the feeds' order

    # --- the run's record: what to stop and delete, also for a later 'live --stop' ---------------
    @property
    def state_path(self) -> Path:
        return run_state_path(self.settings, self.name)

    def _record(self) -> None:
        write_json_atomic(self.state_path, {
            "name": self.name, "stream": self.stream, "queue": self.settings.alerts_queue_name,
            "topic": self.settings.alerts_topic_name, "flink_job": self.name,
            "processes": [p.name for p in (*self.feed_processes, self.watcher, self.trigger)],
            "started": dt.datetime.now(dt.UTC).isoformat()}, indent=2)

    # --- start --------------------------------------------------------------------------------------
    def start(self) -> None:
        """Check the stack, create the stream and queue, start the processes (the feeds last)."""
        require_stack(self.settings)
        _claim(self.settings, self.name, self.say)
        self._record()  # before anything is created: a run killed now still names what to clean up
        atexit.register(self.stop)  # a script or notebook kernel that exits without stop() still cleans up
        _create_stream(self.settings, self.stream)
        self.channel = ensure_channel(self.settings)
        self.say(f"live run '{self.name}': stream {self.stream}, alerts on topic {self.settings.alerts_topic_name} "
                 f"(queue {self.settings.alerts_queue_name}); logs in {self.settings.log_dir / 'live'}")
        self.say(f"dashboard: {dashboard_url(self.settings)}")
        self.trigger.start()
        self.say(f"lambda trigger started (pid {self.trigger.pid()}); log: {self.trigger.log_path}")
        run_job(self.settings, name=self.name, stream=self.stream, say=self.say)
        self.watcher.start()
        self.say(f"alert watcher started (pid {self.watcher.pid()}), every {self.settings.alerts_interval_s:g} s; "
                 f"log: {self.watcher.log_path}")
        self.history = send_history(self.settings, self.feeds, self.stream, self.say)
        for plan, feed in zip(self.feeds, self.feed_processes, strict=True):
            feed.start()
            self.say(f"feed started (pid {feed.pid()}): {_describe(plan)}; log: {feed.log_path}")

    # --- follow -------------------------------------------------------------------------------------
    def watch(self, until: Callable[[list[LiveAlert]], bool] | None = None) -> bool:
        """Show alerts as they arrive until the run is over (True) or ``until(alerts)`` holds (False).

        Raises WorkbenchError, with the end of its log, when a process of the run dies."""
        if self.channel is None:
            raise WorkbenchError("the live run is not started", "call start() first")
        while True:
            self._take_alerts()
            self._poll_windows()
            self._check_processes()
            if until is not None and until(self.alerts):
                return False
            if self._over():
                return True

    def _take_alerts(self) -> None:
        assert self.channel is not None
        for message in receive(self.settings, self.channel, wait_s=QUEUE_WAIT_S):
            try:
                alert = LiveAlert.from_message(message, dt.datetime.now(dt.UTC))
                ours = alert.service in self.services and utc_naive(alert.start) >= self.since
            except (KeyError, ValueError, TypeError):
                continue  # not an alert message of this workbench
            if ours:
                self.alerts.append(alert)
                self.say(alert.line())

    def _poll_windows(self) -> None:
        if time.monotonic() - self._windows_polled < WINDOW_POLL_S:
            return
        self._windows_polled = time.monotonic()
        try:
            with psycopg2.connect(**self.settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
                cur.execute(sql_file(SQL_DIR / "run_windows.sql"), {"services": self.services, "since": self.since})
                rows = cur.fetchall()
            conn.close()
        except psycopg2.Error:
            return  # a missed poll only makes a "seen at" later; the next poll tries again
        now = dt.datetime.now(dt.UTC)
        for service, minute, requests, errors in rows:
            self._windows[(service, minute)] = (int(requests), int(errors))
            self.window_seen.setdefault((service, minute), now)

    def windows(self) -> pd.DataFrame:
        """The run's windows so far: service, minute, requests, status_5xx, seen_at (when the run first saw it)."""
        self._windows_polled = 0.0
        self._poll_windows()
        rows = [(service, minute, requests, errors, self.window_seen[(service, minute)])
                for (service, minute), (requests, errors) in sorted(self._windows.items(), key=lambda kv: kv[0][::-1])]
        return pd.DataFrame(rows, columns=["service", "minute", "requests", "status_5xx", "seen_at"])

    def _check_processes(self) -> None:
        for role, process in (("lambda trigger", self.trigger), ("alert watcher", self.watcher)):
            if not process.running():
                raise WorkbenchError(f"the {role} exited. Last lines of {process.log_path}:\n{tail(process.log_path)}",
                                     f"read {process.log_path}")
        job = FlinkJobProcess(self.settings, self.name)
        if not job.running():
            raise WorkbenchError(f"the Flink job exited. Last lines of {job.log_path}:\n{tail(job.log_path)}",
                                 f"read {job.log_path}")
        if self._feeds_done_at is not None:
            return
        for feed in self.feed_processes:
            if feed.running():
                return
            state = _read_json(feed.state_path)
            if state.get("phase") != "done":
                raise WorkbenchError(f"the feed {feed.name} stopped early ({state.get('error') or 'no state'}). Last "
                                     f"lines of {feed.log_path}:\n{tail(feed.log_path)}", f"read {feed.log_path}")
        self._feeds_done_at = time.monotonic()
        self.say(f"traffic done; waiting up to {self.grace_s:.0f} s for the alerts to settle (less once every "
                 "incident opened has resolved)")

    def _over(self) -> bool:
        if self._feeds_done_at is None:
            return False
        if time.monotonic() - self._feeds_done_at >= self.grace_s:
            return True
        return nothing_left(self.alerts, {s for s in (f.incident_service for f in self.feeds) if s})

    # --- restart, results, stop -----------------------------------------------------------------
    def restart_watcher(self) -> None:
        """Stop the alert watcher and start it again (what a crash and a supervisor would do)."""
        self.watcher.stop()
        self.watcher.start()
        self.say(f"alert watcher restarted (pid {self.watcher.pid()})")

    def feed_states(self) -> list[dict[str, Any]]:
        return [_read_json(feed.state_path) for feed in self.feed_processes]

    def latencies(self) -> list[AlertLatency]:
        """For each "opened" alert about a feed's incident: its time from the first failing record."""
        planned = {state["incident"]["service"]: state["incident"]["start"]
                   for state in self.feed_states() if state.get("incident")}
        opened = [a for a in self.alerts if a.kind == "opened" and a.service in planned]
        if not opened:
            return []
        stored = recent_alerts(self.settings, limit=200)
        found = []
        for alert in opened:
            rows = stored[(stored["service"] == alert.service)
                          & (stored["start"].map(utc_naive) == utc_naive(alert.start))]
            failure = first_failure(self.settings, alert.service, pd.Timestamp(planned[alert.service]))
            if rows.empty or failure is None:
                continue
            last_minute = utc_naive(alert.end) - dt.timedelta(minutes=1)
            found.append(alert_latency(self.settings, alert.service, failure, alert.end, rows["opened_at"].iloc[0],
                                       alert.received_at, self.window_seen.get((alert.service, last_minute))))
        return found

    def result(self, interrupted: bool = False) -> LiveResult:
        incidents = tuple(state["incident"] for state in self.feed_states() if state.get("incident"))
        return LiveResult(self.name, tuple(self.alerts), incidents, tuple(self.latencies()), interrupted)

    def stop(self) -> None:
        """Stop every process the run started and delete its stream and queue (again: nothing to do)."""
        atexit.unregister(self.stop)
        cleanup(self.settings, self.name, self.say)

    def __enter__(self) -> LiveRun:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _describe(plan: FeedPlan) -> str:
    text = (f"{plan.history_min} min of history, then {plan.scenario} live at {plan.rate:g}/s for "
            f"{plan.duration_s:g} s")
    window = plan.incident_minutes
    if window is not None:
        text += f"; incident on {plan.incident_service} from minute {window[0]:g} to {window[1]:g}"
    return text


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def run_state_path(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.json"


def _create_stream(settings: Settings, stream: str) -> None:
    """The run's stream, of one shard (1,000 records/s, far above a live run's rate).

    One shard keeps the history's time order all the way to the watermark. The Flink Kinesis
    connector's watermark is per subtask, over all the shards that subtask reads, and it hands shards
    to subtasks by hash, so two shards can land on one subtask even at a parallelism of two. The
    history goes by at hundreds of event-seconds a second: two shards read a few tens of
    milliseconds apart would then make the slower one's records late for their windows."""
    kinesis = client(settings, "kinesis")
    try:
        kinesis.create_stream(StreamName=stream, ShardCount=1)
        kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
    except (ClientError, BotoCoreError) as exc:
        raise WorkbenchError(f"cannot create the live run's stream {stream!r}: {exc}",
                             "check that the stack is up ('make status')") from exc


def _claim(settings: Settings, name: str, say: Callable[[str], None]) -> None:
    """Refuse to start while a run of this name is running; clean up after one that was killed."""
    state = _read_json(run_state_path(settings, name))
    if not state:
        return
    alive = [p for p in state.get("processes", []) if LiveProcess(settings, p).running()]
    if FlinkJobProcess(settings, state.get("flink_job", name)).running():
        alive.append(f"flink-{state.get('flink_job', name)}")
    if alive:
        raise WorkbenchError(f"a live run named {name!r} is running ({', '.join(alive)})",
                             "stop it with Ctrl-C in its terminal, or 'python -m pipeline live --stop'")
    say(f"cleaning up after an earlier live run {name!r} that did not stop by itself")
    cleanup(settings, name, say)


def cleanup(settings: Settings, name: str = DEFAULT_NAME, say: Callable[[str], None] = print) -> list[str]:
    """Stop what the live run ``name`` started (feeds first, then the watcher, the trigger and the
    Flink job), then delete its queue (unsubscribed first: moto refuses to publish to a topic with a
    deleted queue subscribed) and its stream. Each step is tried even when an earlier one failed;
    returns what could not be done."""
    state = _read_json(run_state_path(settings, name))
    if not state:
        return []
    problems: list[str] = []

    @contextlib.contextmanager
    def step(what: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - the other steps must still run
            problems.append(f"{what}: {type(exc).__name__}: {str(exc).strip()[:200]}")

    for process_name in state.get("processes", []):
        with step(f"stop {process_name}"):
            process = LiveProcess(settings, process_name)
            process.stop()
            process.state_path.unlink(missing_ok=True)
    with step("stop the Flink job"):
        job = FlinkJobProcess(settings, state.get("flink_job", name))
        job.stop()
        job.state_path.unlink(missing_ok=True)  # its last progress: of no use once the run has ended
    stream, queue = state.get("stream"), state.get("queue")
    if queue:
        with step(f"delete the queue {queue}"):
            _delete_queue(settings, state.get("topic") or settings.alerts_topic_name, queue)
    if stream:
        with step(f"delete the stream {stream}"):
            with contextlib.suppress(ClientError):
                client(settings, "kinesis").delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
            checkpoints = default_checkpoint_path(settings, stream)
            lock_path(checkpoints).unlink(missing_ok=True)
            checkpoints.unlink(missing_ok=True)
    for problem in problems:
        say(f"warning: could not {problem}")
    if not problems:
        run_state_path(settings, name).unlink(missing_ok=True)
        say(f"live run '{name}' stopped; its stream and queue are deleted")
    return problems


def _delete_queue(settings: Settings, topic: str, queue: str) -> None:
    sqs, sns = client(settings, "sqs"), client(settings, "sns")
    try:
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    except ClientError as exc:
        if "NonExistent" in error_code(exc) or "NotFound" in error_code(exc):
            return
        raise
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic_arn = sns.create_topic(Name=topic)["TopicArn"]  # idempotent: the ARN of the existing topic
    for subscription in sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", []):
        if subscription["Endpoint"] == arn:
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    sqs.delete_queue(QueueUrl=url)


def stop_live(settings: Settings, name: str = DEFAULT_NAME, say: Callable[[str], None] = print) -> bool:
    """Stop a live run whose own process is gone (killed, a closed terminal); False if none was recorded."""
    if not run_state_path(settings, name).exists():
        say(f"no live run named {name!r} is recorded in {settings.run_dir}")
        return False
    return not cleanup(settings, name, say)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a live run like Ctrl-C (everything it started is stopped); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_live(settings: Settings, scenario: str = "payment-outage", *, duration_s: float = 600.0, rate: float = 20.0,
             incident_start_min: int = 3, incident_min: int = 3, history_min: int = 15,
             params: dict[str, str] | None = None, seed: int = 7, grace_s: float | None = None,
             say: Callable[[str], None] = print) -> LiveResult:
    """Run the whole pipeline live on a scenario for ``duration_s`` seconds of traffic (plus the grace
    period), printing the dashboard URL and each alert as it arrives; stops everything it started,
    also on Ctrl-C (the result then says ``interrupted``). Raises WorkbenchError when the stack is
    not up, an argument does not fit, or a process of the run dies."""
    plan = feed_plan(scenario, duration_s=duration_s, rate=rate, incident_start_min=incident_start_min,
                     incident_min=incident_min, history_min=history_min, params=params, seed=seed)
    with _sigterm_as_interrupt(), LiveRun(settings, [plan], grace_s=grace_s, say=say) as run:
        interrupted = False
        try:
            run.start()
            run.watch()
        except KeyboardInterrupt:
            interrupted = True
            say("interrupted: stopping everything the live run started")
        result = run.result(interrupted)
        summarize(result, say)
    return result


def summarize(result: LiveResult, say: Callable[[str], None] = print) -> None:
    """The run's outcome in a few lines: alerts, the incidents' ground truth, alert latencies."""
    say(f"alerts: {len(result.of_kind('opened'))} opened, {len(result.of_kind('resolved'))} resolved")
    for incident in result.incidents:
        say(f"incident (ground truth): {incident['service']} from {iso_z(pd.Timestamp(incident['start']))} "
            f"to {iso_z(pd.Timestamp(incident['end']))}")
    for latency in result.latencies:
        say(f"alert latency: {latency.line()}")
