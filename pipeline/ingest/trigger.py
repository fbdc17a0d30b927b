"""Running the local trigger: the event source mapping over every shard, until stopped or idle."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.common.errors import WorkbenchError
from pipeline.ingest.config import Stats, TriggerConfig
from pipeline.ingest.mapping import EventSourceMapping
from pipeline.ingest.runtime import DEFAULT_HANDLER, load_function
from pipeline.settings import Settings


class HandlerError(WorkbenchError):
    """The handler named cannot be loaded (a wrong path, module or function name)."""


def run_trigger(settings: Settings, *, handler: str = DEFAULT_HANDLER, stream: str | None = None,
                batch_size: int | None = None, starting_position: str | None = None,
                starting_timestamp: dt.datetime | None = None, until_idle_s: float | None = None,
                on_start: Callable[[EventSourceMapping], None] | None = None,
                report: Callable[[Stats], None] | None = None) -> Stats:
    """Poll ``stream`` and call ``handler`` in-process, as the deployed mapping calls the function.

    Runs until stopped (Ctrl-C, or ``mapping.stop_event`` set from ``on_start``'s caller), or with
    ``until_idle_s`` until every open shard has been caught up that long and every closed shard
    (split or merged while or before it ran) is drained, its children included. ``report`` gets the
    counters every 5 s. Holds the mapping's lock (beside the checkpoint file) from before ``on_start``
    until it returns. Raises HandlerError when the handler cannot be loaded, TriggerLockedError (a
    WorkbenchError naming the holder) when another trigger runs the same stream and function, and
    WorkbenchError when the stream cannot be reached or a poller fails.
    """
    config = TriggerConfig.from_settings(settings, batch_size=batch_size, starting_position=starting_position,
                                         starting_timestamp=starting_timestamp)
    if config.starting_position == "AT_TIMESTAMP" and config.starting_timestamp is None:
        raise WorkbenchError("StartingPosition AT_TIMESTAMP needs a starting timestamp",
                             "pass --starting-timestamp (ISO-8601, e.g. 2026-11-27T10:00:00Z)")
    try:
        function = load_function(settings, handler)
    except (ValueError, OSError, AttributeError) as exc:
        raise HandlerError(f"cannot load the handler {handler!r}: {exc}",
                           "name it as file.py:function or module:function") from exc
    try:
        mapping = EventSourceMapping(settings, function, config, stream_name=stream)
    except (ClientError, BotoCoreError) as exc:
        raise WorkbenchError(f"cannot reach the stream {stream or settings.stream_name} at "
                             f"{settings.kinesis_endpoint or 'AWS'}: {exc}",
                             "start the stack with 'make up' (or create the stream with "
                             "'python -m pipeline generate')") from exc
    mapping.lock.acquire()  # before on_start: a second trigger on this mapping fails at once, saying who runs
    try:
        if on_start:
            on_start(mapping)
        return mapping.run(until_idle_s=until_idle_s, report=report)
    except KeyboardInterrupt:
        mapping.stop_event.set()
        return mapping.stats
    except WorkbenchError:
        raise
    except RuntimeError as exc:
        raise WorkbenchError(str(exc), "see the poller's error above; run again to resume from the "
                             "checkpoints") from exc
    finally:
        mapping.lock.release()
