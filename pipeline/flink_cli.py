"""``python -m pipeline flink run | status | stop | note | deploy``.

``run`` starts the window job (``pipeline.flink_job``) as a process of its own session, with its pid
file (pid + start time, like the stack's servers) in ``var/run/flink-<name>.pid``, its state in
``var/run/flink-<name>.json`` and its log in ``var/log/flink/<name>.log``. Without ``--bounded`` it
returns once the job runs; with ``--bounded`` it waits until the job has drained the stream and
finished, and exits with the job's exit code (for scripts and tests).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.stack.base import Service, StackError, tail

DEFAULT_JOB = "windows"


class FlinkJobProcess(Service):
    """One window job process; reuses the stack's pid-file handling (pid + start time)."""

    stands_in_for = "Managed Flink Studio job"
    port_setting = "postgres_port"  # unused: a job listens on no fixed port

    def __init__(self, settings: Settings, job_name: str = DEFAULT_JOB, stream: str | None = None,
                 bounded: bool = False, parallelism: int | None = None,
                 watermark_bound_s: int | None = None) -> None:
        super().__init__(settings)
        if not job_name.replace("-", "").replace("_", "").isalnum():
            raise StackError(f"invalid job name {job_name!r}", "use letters, digits, '-' and '_'")
        self.job_name = job_name
        self.name = f"flink-{job_name}"
        self.stream = stream or settings.stream_name
        self.bounded = bounded
        self.parallelism = parallelism
        self.watermark_bound_s = watermark_bound_s

    @property
    def log_path(self) -> Path:
        return self.settings.log_dir / "flink" / f"{self.job_name}.log"

    @property
    def state_path(self) -> Path:
        return self.settings.run_dir / f"{self.name}.json"

    def state(self) -> dict:
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def install(self) -> None:
        """Nothing to install: the stack provides the runtime and the jars."""

    def ready(self) -> bool:
        return self.state().get("state") == "RUNNING"

    def command(self) -> tuple[Sequence[str], Mapping[str, str], Path]:
        argv = [sys.executable, "-m", "pipeline.flink_job", "--stream", self.stream,
                "--state-file", str(self.state_path)]
        if self.bounded:
            argv.append("--bounded")
        if self.parallelism:
            argv += ["--parallelism", str(self.parallelism)]
        env = {"PYTHONPATH": str(PROJECT_ROOT)}
        if self.watermark_bound_s is not None:  # the job process reads it from its settings
            env["WB_WATERMARK_BOUND_S"] = str(self.watermark_bound_s)
        return argv, env, PROJECT_ROOT

    def start(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.unlink(missing_ok=True)
        super().start()

    # SIGTERM to the job process only: it cancels the Flink job, then its gateway JVM ends with it.
    terminate_group = False

    def stop(self, timeout_s: float = 30.0) -> bool:
        return super().stop(timeout_s)


def _check_stack(settings: Settings, stream: str) -> None:
    """Clear errors before a job process is started: Kinesis, the stream, PostgreSQL, the jars."""
    import boto3
    import botocore.exceptions
    import psycopg2

    from pipeline import pg_schema
    from pipeline.stack.flink import FlinkRuntime

    client = boto3.client("kinesis", **settings.boto3_kwargs())
    try:
        client.describe_stream_summary(StreamName=stream)
    except client.exceptions.ResourceNotFoundException as exc:
        raise StackError(f"Kinesis stream {stream!r} does not exist at {settings.kinesis_endpoint or 'AWS'}",
                         "create it, pass --stream, or start the stack with 'make up'") from exc
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError) as exc:
        raise StackError(f"Kinesis is not reachable at {settings.kinesis_endpoint}",
                         "start the local stack with 'make up'") from exc
    try:
        pg_schema.apply(settings)
    except psycopg2.OperationalError as exc:
        raise StackError(f"PostgreSQL is not reachable at {settings.pg_host}:{settings.postgres_port}: "
                         f"{str(exc).strip()}", "start the local stack with 'make up'") from exc
    except pg_schema.SchemaError as exc:
        raise StackError(str(exc)) from exc
    missing = [p.name for p in FlinkRuntime(settings).jars() if not p.exists()]
    if missing:
        raise StackError(f"Flink connector jars missing: {', '.join(missing)}", "run 'make up'")


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if args.parallelism is not None and args.parallelism < 1:
        raise StackError(f"--parallelism must be at least 1, not {args.parallelism}")
    if args.watermark_bound is not None and args.watermark_bound < 0:
        raise StackError(f"--watermark-bound must be >= 0 seconds, not {args.watermark_bound}")
    job = FlinkJobProcess(settings, args.name, args.stream, args.bounded, args.parallelism, args.watermark_bound)
    if job.running():
        raise StackError(f"job {args.name!r} is already running (pid {job.pid()})",
                         f"stop it with 'python -m pipeline flink stop --name {args.name}' or use another --name")
    _check_stack(settings, job.stream)
    job.start()
    pid = job.pid()
    print(f"flink job {args.name!r} started (pid {pid}) on stream {job.stream!r}; log: {job.log_path}", flush=True)
    proc = psutil.Process(pid) if pid else None
    if args.bounded:
        code = proc.wait() if proc else 1
        state = job.state()
        job.pid_path.unlink(missing_ok=True)
        print(f"bounded run ended: state {state.get('state', '?')}, {state.get('records_read', 0)} records read, "
              f"exit code {code}")
        if code != 0:
            print(f"error: the job failed. Last lines of {job.log_path}:\n{tail(job.log_path, 25)}", file=sys.stderr)
        return int(code or 0)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if job.ready():
            state = job.state()
            print(f"running: Flink job {state.get('job_id')}; 'python -m pipeline flink status' shows progress")
            return 0
        if not job.running():
            print(f"error: the job process exited. Last lines of {job.log_path}:\n{tail(job.log_path, 25)}",
                  file=sys.stderr)
            return 1
        time.sleep(0.5)
    print(f"error: the job did not reach RUNNING within 180 s; see {job.log_path}", file=sys.stderr)
    return 1


def _jobs(settings: Settings, name: str | None) -> list[FlinkJobProcess]:
    if name:
        return [FlinkJobProcess(settings, name)]
    names = sorted({p.stem.removeprefix("flink-") for pattern in ("flink-*.pid", "flink-*.json")
                    for p in settings.run_dir.glob(pattern)})
    return [FlinkJobProcess(settings, n) for n in names]


def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    jobs = _jobs(settings, args.name)
    if not jobs:
        print("no Flink job has been started (python -m pipeline flink run)")
        return 1
    any_running = False
    for job in jobs:
        state = job.state()
        alive = job.running()
        any_running |= alive
        shown = state.get("state", "?") if alive or state.get("state") in ("FINISHED", "FAILED", "CANCELED") \
            else f"{state.get('state', '?')} (process gone)"
        print(f"{job.job_name}: {shown}; pid {job.pid() or '-'}; stream {state.get('stream', '?')}; "
              f"Flink job {state.get('job_id', '-')}; records read {state.get('records_read', 0)}; "
              f"shards behind (ms) {state.get('behind_ms', {})}; log {job.log_path}")
    return 0 if any_running or args.name is None else 1


def _cmd_stop(args: argparse.Namespace, settings: Settings) -> int:
    jobs = [j for j in _jobs(settings, args.name) if j.running()]
    if not jobs:
        print("no Flink job is running")
        return 0
    for job in jobs:
        job.stop()
        print(f"stopped {job.job_name}")
    return 0


def _cmd_note(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.flink_note import render_note, unfilled_markers, write_note

    path = args.output or settings.var_dir / "flink" / f"{settings.studio_app_name}.zpln"
    write_note(settings, path)
    markers = unfilled_markers(render_note(settings))
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    if markers:
        print(f"markers to fill before running it in Studio (flink deploy fills the password): {', '.join(markers)}")
    return 0


def _cmd_deploy(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.studio_deploy import deploy

    for line in deploy(settings, start=not args.no_start, import_note=not args.no_import):
        print(line, flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    flink = sub.add_parser("flink", help="run the Flink SQL window job locally, or deploy it to Studio",
                           description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = flink.add_subparsers(dest="action", required=True, metavar="ACTION")

    run = actions.add_parser("run", help="start the window job on the local PyFlink runtime")
    run.add_argument("--stream", default=None, help="Kinesis stream (default: WB_STREAM_NAME)")
    run.add_argument("--bounded", action="store_true",
                     help="process what is in the stream, close every window, exit (waits for the end)")
    run.add_argument("--name", default=DEFAULT_JOB, help=f"job name for pid/log files (default {DEFAULT_JOB})")
    run.add_argument("--parallelism", type=int, default=None, help="default: WB_FLINK_PARALLELISM or one per shard")
    run.add_argument("--watermark-bound", type=int, default=None, metavar="SECONDS",
                     help="how late a record may be and still count (default WB_WATERMARK_BOUND_S). A backfill "
                     "read from several shards at once needs a bound as wide as the skew between shards")
    run.set_defaults(func=_cmd_run)

    for action, handler, text in (("status", _cmd_status, "state and progress of the local job(s)"),
                                  ("stop", _cmd_stop, "cancel the local job(s)")):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("--name", default=None, help="one job (default: all)")
        parser.set_defaults(func=handler)

    note = actions.add_parser("note", help="render the paragraphs as a Zeppelin note (.zpln) for Studio")
    note.add_argument("--output", type=Path, default=None, help="default: var/flink/<studio app>.zpln")
    note.set_defaults(func=_cmd_note)

    deploy = actions.add_parser("deploy", help="create/update the Studio application and import the note")
    deploy.add_argument("--no-start", action="store_true", help="do not start the application")
    deploy.add_argument("--no-import", action="store_true", help="do not import the note")
    deploy.set_defaults(func=_cmd_deploy)
