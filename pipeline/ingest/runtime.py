"""The local Lambda runtime: the handler loaded once with the function's environment, and its context.

moto stores Lambda functions but never runs them; the trigger calls the real handler in-process,
after setting the environment ``lambda deploy`` gives the deployed function.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.ingest.deploy import function_environment as deployed_environment
from pipeline.settings import PROJECT_ROOT, Settings

Handler = Callable[[dict[str, Any], Any], Any]
DEFAULT_HANDLER = f"{PROJECT_ROOT / 'lambda' / 'handler.py'}:handler"


class LambdaContext:
    """The parts of Lambda's context object handlers use."""

    def __init__(self, function_name: str, region: str, timeout_s: float = 60.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(spec: str) -> Handler:
    """``path/to/file.py:function`` or ``package.module:function``; loaded once, like a container."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise ValueError(f"handler must look like 'file.py:function' or 'module:function', got {spec!r}")
    if target.endswith(".py"):
        path = Path(target)
        module_spec = importlib.util.spec_from_file_location(f"lambda_function_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise ValueError(f"cannot load the handler file {path}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    return getattr(module, name)


def function_environment(settings: Settings) -> dict[str, str]:
    """The environment the deployed function gets on the local profile (``lambda deploy`` builds it)."""
    if not settings.is_local:
        raise ValueError("the local trigger plays the event source mapping of the local profile; "
                         "on AWS the deployed mapping invokes the function")
    return deployed_environment(settings, None)


def load_function(settings: Settings, spec: str = DEFAULT_HANDLER) -> Handler:
    """Set the function's environment, then load its handler (as a Lambda container would)."""
    os.environ.update(function_environment(settings))
    return load_handler(spec)
