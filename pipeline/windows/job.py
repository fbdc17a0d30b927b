"""The window job: the paragraphs of ``flink_studio/`` on the local PyFlink mini-cluster.

Runs in its own process (started by ``python -m pipeline flink run``; ``python -m pipeline.windows.job``
is that process), so a notebook kernel that dies does not take the job along. The DDL paragraphs run
one by one; the INSERT paragraph becomes one statement set, so the stream is read once for both
tables. The process writes its state (job id, REST port, progress) to a JSON file the CLI reads.

``--bounded``: the Kinesis source never ends, so the process watches the source through the
mini-cluster's REST metrics. Once every shard reports ``millisBehindLatest == 0`` and the source has
emitted nothing new for a few polls, the stream is drained; the job is then stopped with a
savepoint and ``advance_to_end_of_time`` (Flink's "stop --drain"): the sources emit the maximum
watermark, every open window fires and the JDBC sinks flush before the job finishes. Windows whose
records are all in the stream are therefore complete; records beyond the watermark bound were
already dropped as late, exactly as in an unbounded run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.common.aws import client
from pipeline.common.files import write_json_atomic
from pipeline.settings import Settings
from pipeline.windows import schema
from pipeline.windows.paragraphs import local_values, paragraphs
from pipeline.windows.runtime import create_table_env

POLL_S = 0.5  # the REST metrics are refreshed as often (runtime.py)
QUIET_POLLS = 3  # consecutive polls without a new record before a caught-up stream counts as drained


@dataclass
class SourceProgress:
    """What the Kinesis source reports: records emitted and, per shard, how far behind it is."""

    records_out: int = 0
    behind_ms: dict[str, int] = field(default_factory=dict)

    def caught_up(self, shard_count: int) -> bool:
        return len(self.behind_ms) >= shard_count and all(v == 0 for v in self.behind_ms.values())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local mini-cluster
        return json.load(response)


def source_progress(rest_port: int, job_id: str) -> SourceProgress | None:
    """The source vertex's metrics from the mini-cluster's REST API (None until it is running)."""
    base = f"http://127.0.0.1:{rest_port}/jobs/{job_id}"
    try:
        job = _get(base)
        vertex = next(v for v in job["vertices"] if v["name"].startswith("Source: log_input"))  # type: ignore[index]
        ids = [m["id"] for m in _get(f"{base}/vertices/{vertex['id']}/metrics")]  # type: ignore[union-attr]
        wanted = [i for i in ids if i.endswith(".millisBehindLatest")
                  or (i.endswith(".numRecordsOut") and "Source__log_input" in i)]
        if not wanted:
            return None
        values = _get(f"{base}/vertices/{vertex['id']}/metrics?get=" + ",".join(wanted))
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    progress = SourceProgress()
    for metric in values:  # type: ignore[union-attr]
        value = int(float(metric["value"]))
        if metric["id"].endswith(".millisBehindLatest"):
            shard = metric["id"].split(".shardId.")[-1].rsplit(".", 1)[0]
            progress.behind_ms[shard] = value
        else:
            progress.records_out += value
    return progress


def open_shard_count(settings: Settings, stream: str) -> int:
    shards = client(settings, "kinesis").list_shards(StreamName=stream)["Shards"]
    return sum(1 for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"])


class StateFile:
    """The job's state as JSON, rewritten atomically so a reader never sees half a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state: dict[str, object] = {}

    def update(self, **values: object) -> None:
        self.state.update(values, updated=time.time())
        write_json_atomic(self.path, self.state)


def run(settings: Settings, stream: str, bounded: bool, state: StateFile, parallelism: int | None = None) -> int:
    """Run the job; returns the process exit code."""
    state.update(state="STARTING", pid=os.getpid(), stream=stream, bounded=bounded, started=time.time())
    applied = schema.apply(settings)
    if applied:
        print(f"schema: applied {', '.join(applied)}", flush=True)
    shard_count = open_shard_count(settings, stream)
    rest_port = free_port()
    t_env = create_table_env(settings, job_name=f"log windows {stream}",
                             parallelism=parallelism or settings.flink_parallelism or shard_count, bounded=bounded)
    t_env.get_config().set("rest.bind-port", str(rest_port))
    values = local_values(settings, stream)
    statement_set = t_env.create_statement_set()
    for paragraph in paragraphs():
        for statement in paragraph.statements(values):
            if statement.upper().startswith("INSERT"):
                statement_set.add_insert_sql(statement)
            else:
                t_env.execute_sql(statement)
    job = statement_set.execute().get_job_client()
    job_id = str(job.get_job_id())
    submitted = time.time()
    state.update(state="RUNNING", job_id=job_id, rest_port=rest_port, submitted=submitted)
    print(f"job {job_id} running on stream {stream!r} ({shard_count} shards), REST port {rest_port}", flush=True)

    stopping = {"signal": 0}

    def _on_signal(signum: int, _frame: object) -> None:
        stopping["signal"] = signum

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    deadline = time.monotonic() + settings.flink_bounded_timeout_s
    last_count, quiet = -1, 0
    try:
        while True:
            status = job.get_job_status().result().name
            if status in ("FAILED", "CANCELED", "FINISHED"):
                job.get_job_execution_result().result()  # raises the job's failure cause
                state.update(state=status)
                return 0 if status == "FINISHED" else 1
            if stopping["signal"]:
                print(f"signal {stopping['signal']}: cancelling the job", flush=True)
                job.cancel().result()
                state.update(state="CANCELED")
                return 0
            progress = source_progress(rest_port, job_id)
            if progress is not None:
                now = time.time()
                if progress.records_out != state.state.get("records_read", 0):
                    # When reading began and last advanced: the benchmark's throughput window.
                    state.state.setdefault("first_record_at", now)
                    state.state["last_change_at"] = now
                state.update(records_read=progress.records_out, behind_ms=progress.behind_ms)
                if bounded:
                    quiet = quiet + 1 if progress.records_out == last_count else 0
                    last_count = progress.records_out
                    if progress.caught_up(shard_count) and quiet >= QUIET_POLLS:
                        return _drain(settings, job, state, progress, submitted)
            if bounded and time.monotonic() > deadline:
                print(f"error: stream not drained within {settings.flink_bounded_timeout_s:.0f} s", file=sys.stderr)
                job.cancel().result()
                state.update(state="TIMED_OUT")
                return 1
            time.sleep(POLL_S)
    except Exception as exc:
        state.update(state="FAILED", error=str(exc)[-2000:])
        raise


def _drain(settings: Settings, job: object, state: StateFile, progress: SourceProgress, submitted: float) -> int:
    """Stop with savepoint + drain: MAX_WATERMARK closes every window, sinks flush, job finishes."""
    drained_at = time.time()
    state.update(state="DRAINING", records_read=progress.records_out, drained_at=drained_at)
    savepoints = settings.var_dir / "flink" / "savepoints"
    savepoints.mkdir(parents=True, exist_ok=True)
    print(f"stream drained ({progress.records_out} records read); stopping with drain", flush=True)
    job.stop_with_savepoint(True, savepoints.as_uri()).result()  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):  # the mini-cluster may already be gone
        job.get_job_execution_result().result()  # type: ignore[attr-defined]
    finished = time.time()
    state.update(state="FINISHED", finished=finished, records_read=progress.records_out)
    print(f"finished: {progress.records_out} records in {finished - submitted:.1f} s after submission",
          flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", default=None, help="Kinesis stream (default: the settings' stream_name)")
    parser.add_argument("--bounded", action="store_true", help="stop once the stream is drained")
    parser.add_argument("--parallelism", type=int, default=None)
    parser.add_argument("--state-file", type=Path, required=True)
    args = parser.parse_args(argv)
    settings = Settings()
    state = StateFile(args.state_file)
    return run(settings, args.stream or settings.stream_name, args.bounded, state, args.parallelism)


if __name__ == "__main__":
    raise SystemExit(main())
