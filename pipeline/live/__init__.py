"""The live side: alerts from the incident detector over the closed windows, published to SNS once
per incident opening and once per resolution (``alerts``), with their evidence (``evidence``) on a
topic and its subscribed queue (``channel``)."""

from pipeline.live.alerts import AlertEvent, evaluate, recent_alerts, watch
from pipeline.live.channel import Channel, ensure_channel, receive

__all__ = ["AlertEvent", "Channel", "ensure_channel", "evaluate", "receive", "recent_alerts", "watch"]
