"""AWS clients built from the settings (the local endpoint or AWS's credential chain), and the check
every step makes before it uses the stream: does it exist, and can it be used now."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipeline.common.errors import WorkbenchError
from pipeline.settings import Settings


def client(settings: Settings, service: str, config: Config | None = None) -> Any:
    """A boto3 client for ``service`` at the profile's endpoint (boto3 clients have no importable type)."""
    if config is None:
        return boto3.client(service, **settings.boto3_kwargs())
    return boto3.client(service, config=config, **settings.boto3_kwargs())


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def require_stream(settings: Settings, stream: str | None = None, kinesis: Any = None) -> dict[str, Any]:
    """The stream's ``StreamDescriptionSummary``; raises WorkbenchError (with the fix) when the stream
    is missing, not ACTIVE, or Kinesis cannot be reached."""
    name = stream or settings.stream_name
    where = settings.kinesis_endpoint or f"AWS ({settings.region})"
    kinesis = kinesis or client(settings, "kinesis", Config(connect_timeout=5, retries={"max_attempts": 2}))
    try:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            fix = ("start the local stack ('make up'), which creates it, or pass --stream" if settings.is_local
                   else f"create it (aws kinesis create-stream --stream-name {name} "
                   f"--shard-count {settings.shard_count}) or pass --stream")
            raise WorkbenchError(f"Kinesis stream {name!r} does not exist at {where}", fix) from exc
        raise WorkbenchError(f"cannot use Kinesis stream {name!r} at {where}: {exc}") from exc
    except BotoCoreError as exc:
        raise WorkbenchError(f"Kinesis is not reachable at {where}: {exc}",
                             "start the local stack with 'make up' (see 'make status')") from exc
    if summary["StreamStatus"] not in ("ACTIVE", "UPDATING"):
        raise WorkbenchError(f"Kinesis stream {name!r} is {summary['StreamStatus']}, not ACTIVE",
                             "wait until it is ACTIVE, then try again")
    return summary
