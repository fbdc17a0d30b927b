"""Files other processes read while we write them: replaced atomically, never seen half-written."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any, *, indent: int | None = None, sort_keys: bool = False) -> Path:
    """Write ``data`` as JSON to ``path`` through a temporary file in the same folder and a rename.

    The temporary name carries the process and thread, so concurrent writers never share one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    text = json.dumps(data, indent=indent, sort_keys=sort_keys) + ("\n" if indent is not None else "")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
