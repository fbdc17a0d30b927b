"""Where each shard's trigger stopped: the last fully processed sequence number, surviving restarts."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pipeline.common.files import write_json_atomic
from pipeline.settings import Settings


class CheckpointStore:
    """Last fully processed sequence number per shard, in a JSON file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def get(self, shard_id: str) -> str | None:
        with self._lock:
            return self._data.get(shard_id)

    def set(self, shard_id: str, sequence_number: str) -> None:
        with self._lock:
            self._data[shard_id] = sequence_number
            write_json_atomic(self.path, self._data, sort_keys=True)


def default_checkpoint_path(settings: Settings, stream_name: str) -> Path:
    return settings.var_dir / "trigger" / settings.function_name / f"{stream_name}.json"
