"""Where each shard's trigger stopped, surviving restarts, and the lock that keeps one trigger per mapping.

The checkpoint file maps each shard to the last fully processed sequence number, or to ``SHARD_END``
once the shard is closed (split or merged) and every record of it is done: a restarted trigger never
reads a drained parent again, and starts its children at once. The lock file beside it names the one
trigger that may write it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from pipeline.common.errors import WorkbenchError
from pipeline.common.files import write_json_atomic
from pipeline.settings import Settings

SHARD_END = "SHARD_END"  # a closed shard read to its end, every record done (KCL's name for it)


class CheckpointStore:
    """Last fully processed sequence number per shard (or ``SHARD_END``), in a JSON file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def get(self, shard_id: str) -> str | None:
        """The last fully processed sequence number; None if none yet or the shard is finished."""
        with self._lock:
            value = self._data.get(shard_id)
        return None if value == SHARD_END else value

    def finished(self, shard_id: str) -> bool:
        """Whether the shard is closed and every record of it is done."""
        with self._lock:
            return self._data.get(shard_id) == SHARD_END

    def known(self, shard_id: str) -> bool:
        """Whether this mapping has processed (part of) the shard: a checkpoint or its end."""
        with self._lock:
            return shard_id in self._data

    def set(self, shard_id: str, sequence_number: str) -> None:
        self._write(shard_id, sequence_number)

    def finish(self, shard_id: str) -> None:
        """Mark a closed shard as drained: its children may be read, and it is never read again."""
        self._write(shard_id, SHARD_END)

    def _write(self, shard_id: str, value: str) -> None:
        with self._lock:
            self._data[shard_id] = value
            write_json_atomic(self.path, self._data, sort_keys=True)


def default_checkpoint_path(settings: Settings, stream_name: str) -> Path:
    return settings.var_dir / "trigger" / settings.function_name / f"{stream_name}.json"


def lock_path(checkpoint_path: Path) -> Path:
    return checkpoint_path.with_name(f"{checkpoint_path.name}.lock")


class TriggerLockedError(WorkbenchError):
    """Another trigger runs the same mapping (same checkpoint file)."""


class TriggerLock:
    """An exclusive ``flock`` on a file beside the checkpoint file, holding the holder's pid, host and start.

    The kernel drops a ``flock`` when its process ends however it ends (even ``kill -9``), so a lock is
    never stale; the file is removed on release, and a file left by a killed holder is simply taken
    over. A lock file removed by its holder just after another process opened it is detected (the
    open file is no longer the one at the path) and opened again.
    """

    def __init__(self, path: Path, mapping: str = "") -> None:
        self.path = path
        self.mapping = mapping
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise TriggerLockedError naming the holder. Does nothing if already held."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise self._locked_error(holder) from None
            try:
                current = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(fd)  # the previous holder removed that file as we opened it: lock the new one
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "mapping": self.mapping}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode("utf-8"), 0)
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and drop the lock (the file goes first, while it is still ours)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(fd)

    def __enter__(self) -> TriggerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _locked_error(self, holder: dict[str, Any]) -> TriggerLockedError:
        pid, host, since = holder.get("pid", "?"), holder.get("host", "?"), holder.get("started", "?")
        where = "" if host == socket.gethostname() else f" on host {host}"
        return TriggerLockedError(
            f"another trigger already runs this mapping{f' ({self.mapping})' if self.mapping else ''}: "
            f"pid {pid}{where}, since {since} (lock file {self.path}); two triggers would deliver every "
            "record twice and overwrite each other's checkpoints",
            f"let it finish, or stop it first (kill {pid}{where}; it releases the lock on exit) and run "
            "again; to run an independent trigger, give it another function name (WB_FUNCTION_NAME) so "
            "it keeps checkpoints of its own")


def _read_holder(fd: int) -> dict[str, Any]:
    """The holder's record; it may not be written yet when the holder has only just taken the lock."""
    for _ in range(20):
        text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
        if text:
            try:
                return json.loads(text)
            except ValueError:
                pass
        time.sleep(0.025)
    return {}
