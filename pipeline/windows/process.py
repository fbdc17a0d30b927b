"""The window job as a process of its own: started, watched and stopped by its recorded pid.

``run_job`` starts ``python -m pipeline.windows.job`` in its own session, with its pid file (pid +
start time, like the stack's servers) in ``var/run/flink-<name>.pid``, its state in
``var/run/flink-<name>.json`` and its log in ``var/log/flink/<name>.log``. Live, it returns once the
Flink job runs; bounded, once the job has drained the stream and finished.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg2

from pipeline.common.aws import require_stream
from pipeline.common.errors import WorkbenchError
from pipeline.settings import PROJECT_ROOT, Settings, private_dir
from pipeline.stack.base import Service, tail
from pipeline.stack.flink import FlinkRuntime
from pipeline.windows import schema

DEFAULT_JOB = "windows"
START_TIMEOUT_S = 180.0


class FlinkJobProcess(Service):
    """One window job process; reuses the stack's pid-file handling (pid + start time)."""

    stands_in_for = "Managed Flink Studio job"
    port_setting = "postgres_port"  # unused: a job listens on no fixed port
    # A job, not a server: it reads Kinesis with the caller's AWS credential chain (keys, profile,
    # AWS_* settings) and its JVM needs the caller's Java setup, so it keeps the whole environment.
    inherit_environment = True

    def __init__(self, settings: Settings, job_name: str = DEFAULT_JOB, stream: str | None = None,
                 bounded: bool = False, parallelism: int | None = None,
                 watermark_bound_s: int | None = None) -> None:
        super().__init__(settings)
        if not job_name.replace("-", "").replace("_", "").isalnum():
            raise WorkbenchError(f"invalid job name {job_name!r}", "use letters, digits, '-' and '_'")
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
        argv = [sys.executable, "-m", "pipeline.windows.job", "--stream", self.stream,
                "--state-file", str(self.state_path)]
        if self.bounded:
            argv.append("--bounded")
        if self.parallelism:
            argv += ["--parallelism", str(self.parallelism)]
        # The job process rebuilds exactly these settings (a notebook's overrides included).
        env = self.settings.environment()
        if self.watermark_bound_s is not None:
            env["WB_WATERMARK_BOUND_S"] = str(self.watermark_bound_s)
        return argv, env, PROJECT_ROOT

    def start(self) -> None:
        private_dir(self.state_path.parent)
        self.state_path.unlink(missing_ok=True)
        super().start()

    # SIGTERM to the job process only: it cancels the Flink job, then its gateway JVM ends with it.
    terminate_group = False

    def stop(self, timeout_s: float = 30.0) -> bool:
        return super().stop(timeout_s)


def check_ready(settings: Settings, stream: str) -> None:
    """Clear errors before a job process is started: Kinesis, the stream, PostgreSQL, the jars."""
    require_stream(settings, stream)
    try:
        schema.apply(settings)
    except psycopg2.OperationalError as exc:
        raise WorkbenchError(f"PostgreSQL is not reachable at {settings.pg_host}:{settings.postgres_port}: "
                         f"{str(exc).strip()}", "start the local stack with 'make up'") from exc
    missing = [p.name for p in FlinkRuntime(settings).jars() if not p.exists()]
    if missing:
        raise WorkbenchError(f"Flink connector jars missing: {', '.join(missing)}", "run 'make up'")


@dataclass(frozen=True)
class JobRun:
    """How a started job ended (bounded) or that it runs (live)."""

    name: str
    pid: int | None
    log_path: Path
    state: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def run_job(settings: Settings, *, name: str = DEFAULT_JOB, stream: str | None = None, bounded: bool = False,
            parallelism: int | None = None, watermark_bound_s: int | None = None,
            say: Callable[[str], None] | None = None) -> JobRun:
    """Start the window job on the local runtime; bounded: wait until it finished (``exit_code``).

    Raises WorkbenchError for wrong arguments, a job of that name already running, a stack that is
    not ready, or a live job that does not reach RUNNING.
    """
    say = say or (lambda line: print(line, flush=True))
    if parallelism is not None and parallelism < 1:
        raise WorkbenchError(f"--parallelism must be at least 1, not {parallelism}")
    if watermark_bound_s is not None and watermark_bound_s < 0:
        raise WorkbenchError(f"--watermark-bound must be >= 0 seconds, not {watermark_bound_s}")
    job = FlinkJobProcess(settings, name, stream, bounded, parallelism, watermark_bound_s)
    if job.running():
        raise WorkbenchError(f"job {name!r} is already running (pid {job.pid()})",
                             f"stop it with 'python -m pipeline flink stop --name {name}' or use another --name")
    check_ready(settings, job.stream)
    job.start()
    pid = job.pid()
    say(f"flink job {name!r} started (pid {pid}) on stream {job.stream!r}; log: {job.log_path}")
    if bounded:
        code = psutil.Process(pid).wait() if pid else 1
        state = job.state()
        job.pid_path.unlink(missing_ok=True)
        say(f"bounded run ended: state {state.get('state', '?')}, {state.get('records_read', 0)} records read, "
            f"exit code {code}")
        if code != 0:
            print(f"error: the job failed. Last lines of {job.log_path}:\n{tail(job.log_path, 25)}", file=sys.stderr)
        return JobRun(name, pid, job.log_path, state, int(code or 0))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if job.ready():
            state = job.state()
            say(f"running: Flink job {state.get('job_id')}; 'python -m pipeline flink status' shows progress")
            return JobRun(name, pid, job.log_path, state)
        if not job.running():
            raise WorkbenchError(f"the job process exited. Last lines of {job.log_path}:\n{tail(job.log_path, 25)}")
        time.sleep(0.5)
    raise WorkbenchError(f"the job did not reach RUNNING within {START_TIMEOUT_S:.0f} s", f"see {job.log_path}")


def jobs(settings: Settings, name: str | None = None) -> list[FlinkJobProcess]:
    """The named job, or every job that has a pid or state file."""
    if name:
        return [FlinkJobProcess(settings, name)]
    names = sorted({p.stem.removeprefix("flink-") for pattern in ("flink-*.pid", "flink-*.json")
                    for p in settings.run_dir.glob(pattern)})
    return [FlinkJobProcess(settings, n) for n in names]


def stop_jobs(settings: Settings, name: str | None = None) -> list[str]:
    """Cancel the running job(s); returns the names stopped."""
    stopped = []
    for job in jobs(settings, name):
        if job.running():
            job.stop()
            stopped.append(job.job_name)
    return stopped
