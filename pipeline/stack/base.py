"""What every server of the local stack has in common: a background process, a log, a pid file.

Each server is a separate process started in its own session (so a dying notebook kernel or a
Ctrl-C in the shell does not take it along), with its output in ``var/log/<name>.log`` and its pid
in ``var/run/<name>.pid`` (a 0700 folder). The pid file also records the process start time, so
``down`` never signals a process that merely reused the pid of one we started.

A server gets only the environment it needs (``SERVER_ENVIRONMENT`` plus its ``command()`` extras),
not its caller's: AWS keys, ``WB_*`` passwords and other secrets of the shell that ran ``make up``
never reach moto, FerretDB, PostgreSQL or Trino.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from pipeline.settings import Settings, private_dir

# What a server takes from the caller's environment; anything else it needs comes from command().
SERVER_ENVIRONMENT = frozenset({"PATH", "HOME", "LANG", "TZ", "TMPDIR", "JAVA_HOME"})
SERVER_ENVIRONMENT_PREFIXES = ("LC_",)


def server_environment(extra_env: Mapping[str, str]) -> dict[str, str]:
    """The minimal environment of a server process: the allowed caller variables, then ``extra_env``."""
    env = {name: value for name, value in os.environ.items()
           if name in SERVER_ENVIRONMENT or name.startswith(SERVER_ENVIRONMENT_PREFIXES)}
    env.update(extra_env)
    return env


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    stands_in_for: str
    address: str
    state: str  # "up", "down", "failed"
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "up"


def port_owner(host: str, port: int) -> str | None:
    """Describe the process listening on host:port, or None when the port is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            pass
        else:
            return None
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                proc = psutil.Process(conn.pid)
                return f"pid {conn.pid} ({' '.join(proc.cmdline()[:3])[:120]})"
    except (psutil.Error, OSError):
        pass
    return "another program"


def seconds_since_boot_at_start(pid: int) -> float:
    """When the process started, in seconds after the machine booted: what tells a process from a
    later one with the same pid. Its wall-clock start time does not: when the clock is set (NTP, a
    virtual machine resumed) the boot time and every start time derived from it move."""
    booted = psutil.boot_time()  # read first: create_time() derives from the boot time psutil last read
    return psutil.Process(pid).create_time() - booted


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return f"(no log at {path})"
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 16_384))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


class Service(ABC):
    """One server of the local stack."""

    name: str
    stands_in_for: str
    port_setting: str  # name of the Settings field holding its port

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # --- identity ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(getattr(self.settings, self.port_setting))

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.settings.log_dir / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.settings.run_dir / f"{self.name}.pid"

    def note(self) -> str:
        return ""

    # --- to implement --------------------------------------------------------------------------
    def check_prerequisites(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Raise WorkbenchError naming what is missing (a JDK, Go, ...) and how to get it."""

    @abstractmethod
    def install(self) -> None:
        """Make the server runnable: download or build what is missing. Idempotent, cached."""

    @abstractmethod
    def command(self) -> tuple[Sequence[str], Mapping[str, str], Path]:
        """The command line, extra environment and working directory of the server process."""

    @abstractmethod
    def ready(self) -> bool:
        """True when the server answers a real request (not merely an open port)."""

    def provision(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Create what the workbench expects to find (stream, database, role). Idempotent."""

    def prepare(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Write config files and data folders just before start."""

    # --- environment and folders -------------------------------------------------------------------
    # A server gets server_environment(); a job that works with the caller's credentials (a Flink job
    # reads Kinesis with the AWS credential chain) sets this to get the caller's whole environment.
    inherit_environment = False

    def process_environment(self, extra_env: Mapping[str, str]) -> dict[str, str]:
        """The environment the process is started with: minimal for servers, ``extra_env`` on top."""
        if self.inherit_environment:
            return {**os.environ, **extra_env}
        return server_environment(extra_env)

    def private_folders(self) -> list[Path]:
        """Folders only the stack's user may enter (0700): pid files here, data folders in subclasses."""
        return [self.settings.run_dir]

    def secure_folders(self) -> None:
        """Create the private folders, 0700, and narrow existing ones (called at start and provision)."""
        for folder in self.private_folders():
            private_dir(folder)

    # --- process handling ----------------------------------------------------------------------
    def pid(self) -> int | None:
        """The pid of the process this stack started, if it is still that process."""
        try:
            record = json.loads(self.pid_path.read_text(encoding="utf-8"))
            pid = int(record["pid"])
            if "since_boot" in record:
                if abs(seconds_since_boot_at_start(pid) - float(record["since_boot"])) > 1.0:
                    return None
            elif abs(psutil.Process(pid).create_time() - float(record["started"])) > 1.0:
                return None
            proc = psutil.Process(pid)
            if not proc.is_running():
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc.pid
        except (OSError, ValueError, KeyError, psutil.Error):
            return None

    def start(self) -> None:
        self.secure_folders()
        self.prepare()
        argv, extra_env, cwd = self.command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        private_dir(self.pid_path.parent)
        env = self.process_environment(extra_env)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        record = {"pid": proc.pid, "started": psutil.Process(proc.pid).create_time(),
                  "since_boot": seconds_since_boot_at_start(proc.pid)}
        self.pid_path.write_text(json.dumps(record), encoding="utf-8")

    def running(self) -> bool:
        return self.pid() is not None

    # SIGTERM goes to the whole process group, unless the leader must shut its children down itself.
    terminate_group = True

    def stop(self, timeout_s: float = 20.0) -> bool:
        """Stop the process this stack started (its group is killed if it hangs); True if there was one."""
        pid = self.pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            (os.killpg if self.terminate_group else os.kill)(pid, signal.SIGTERM)
        try:
            psutil.Process(pid).wait(timeout=timeout_s)
        except psutil.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
        self.pid_path.unlink(missing_ok=True)
        return True

    def status(self) -> ServiceStatus:
        try:
            is_ready = self.ready()
        except Exception:  # noqa: BLE001 - any failure to answer means "down"
            is_ready = False
        if is_ready:
            note = self.note()
            if not self.running():
                note = "; ".join(filter(None, ["not started by this stack", note]))
            return ServiceStatus(self.name, self.stands_in_for, self.address, "up", note)
        if self.running():
            return ServiceStatus(self.name, self.stands_in_for, self.address, "down",
                                 f"process alive but not answering; see {self.log_path}")
        return ServiceStatus(self.name, self.stands_in_for, self.address, "down", "not running")
