"""The live side: alerts from the incident detector over the closed windows, published to SNS once
per incident opening and once per resolution (``alerts``), with their evidence (``evidence``) on a
topic and its subscribed queue (``channel``); and live runs of the whole pipeline on fresh traffic
(``run``: trigger, Flink job, watcher and generator as processes of their own, alerts as they arrive)."""

from pipeline.live.alerts import AlertEvent, evaluate, recent_alerts, watch
from pipeline.live.channel import Channel, ensure_channel, receive
from pipeline.live.run import LiveResult, LiveRun, feed_plan, forget, isolated, run_live, stop_live

__all__ = ["AlertEvent", "Channel", "LiveResult", "LiveRun", "ensure_channel", "evaluate", "feed_plan", "forget",
           "isolated", "receive", "recent_alerts", "run_live", "stop_live", "watch"]
