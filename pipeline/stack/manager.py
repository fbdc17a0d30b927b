"""``stack up | down | status``: the whole local stack as one unit.

``up`` checks every prerequisite and port before it starts anything, installs what is missing,
starts the servers side by side, waits for each to answer a real request and then creates what the
pipeline expects (stream, database, role). If any part fails, it stops what this ``up`` started, so
nothing is left half-running, and says which part failed, why, and where its log is.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from pipeline.common.errors import WorkbenchError
from pipeline.settings import Settings
from pipeline.stack.base import Service, ServiceStatus, port_owner, tail
from pipeline.stack.ferretdb import FerretDBService
from pipeline.stack.flink import FlinkRuntime
from pipeline.stack.moto import MotoService
from pipeline.stack.postgres import PostgresService
from pipeline.stack.superset import SupersetService
from pipeline.stack.trino import TrinoService


def phases(settings: Settings) -> list[list[Service]]:
    """The servers in start phases: each phase starts side by side once the one before is up and
    provisioned (Trino after the stores its catalogs point at, in the same phase as they start fast;
    Superset after all of them: its metadata lives in PostgreSQL and it imports dashboards over Trino)."""
    core: list[Service] = [MotoService(settings), PostgresService(settings), FerretDBService(settings),
                           TrinoService(settings)]
    return [core, [SupersetService(settings)]] if settings.superset_enabled else [core]


def services(settings: Settings) -> list[Service]:
    """The servers, in start order."""
    return [service for phase in phases(settings) for service in phase]


def status(settings: Settings) -> list[ServiceStatus]:
    rows = [s.status() for s in services(settings)]
    rows.append(FlinkRuntime(settings).status())
    return rows


def format_table(rows: Iterable[ServiceStatus]) -> str:
    header = ("service", "address", "state", "stands in for", "note")
    body = [(r.name, r.address, r.state, r.stands_in_for, r.note) for r in rows]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *body]:
        cells = [str(cell).ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths) + "  ----")
    return "\n".join(lines)


def _wait_ready(pending: list[Service], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = list(pending)
    while waiting:
        for service in list(waiting):
            try:
                if service.ready():
                    print(f"  {service.name} is up at {service.address}", flush=True)
                    waiting.remove(service)
                    continue
            except Exception:  # noqa: BLE001,S110 - not answering yet
                pass
            if not service.running():
                raise WorkbenchError(
                    f"{service.name} exited during start-up. Last lines of {service.log_path}:\n"
                    f"{tail(service.log_path)}",
                    f"read {service.log_path}, fix the cause, then run 'make up' again",
                )
        if waiting and time.monotonic() > deadline:
            names = ", ".join(s.name for s in waiting)
            raise WorkbenchError(
                f"{names} did not answer within {timeout_s:.0f} s; see {', '.join(str(s.log_path) for s in waiting)}",
                "the machine may be overloaded: raise WB_STARTUP_TIMEOUT_S, or read the log",
            )
        time.sleep(0.25)


def up(settings: Settings) -> list[ServiceStatus]:
    for folder in (settings.var_dir, settings.log_dir, settings.run_dir, settings.cache_dir):
        folder.mkdir(parents=True, exist_ok=True)
    stages = phases(settings)
    all_services = [service for phase in stages for service in phase]
    to_start: list[Service] = []
    for service in all_services:
        if service.running():
            print(f"  {service.name} already running (pid {service.pid()})", flush=True)
        else:
            to_start.append(service)

    # 1. Everything that can be checked before anything starts.
    flink = FlinkRuntime(settings)
    for item in [*to_start, flink]:
        item.check_prerequisites()
    taken = [(s, owner) for s in to_start if (owner := port_owner(settings.host, s.port))]
    if taken:
        lines = [f"port {s.port} for {s.name} is already in use by {owner}" for s, owner in taken]
        env_names = ", ".join(f"WB_{s.port_setting.upper()}" for s, _ in taken)
        raise WorkbenchError("; ".join(lines),
                         f"stop that program, or choose other ports with {env_names} (in .env or the environment)")

    # 2. Installs: cached, so a warm run only checks files.
    for item in [*all_services, flink]:
        item.install()

    # 3. Start phase by phase, side by side within one; on failure stop what this call started.
    started: list[Service] = []
    try:
        for phase in stages:
            for service in phase:
                if service in to_start:
                    print(f"  starting {service.name} (log: {service.log_path})", flush=True)
                    service.start()
                    started.append(service)
            _wait_ready(phase, settings.startup_timeout_s)
            for service in phase:
                service.provision()
    except BaseException:
        for service in reversed(started):
            service.stop()
        raise
    return status(settings)


def down(settings: Settings) -> list[str]:
    """Stop what ``up`` started (pid files), nothing else; Superset too when it was since left out."""
    stopped = []
    everything = services(settings)
    if not settings.superset_enabled:
        everything.append(SupersetService(settings))
    for service in reversed(everything):
        if service.stop():
            stopped.append(service.name)
    return stopped
