"""Where alerts go: an SNS topic (the local endpoint, or real SNS on AWS) and, when the settings name
one, an SQS queue subscribed to it with raw delivery (what ``alerts tail`` and the tests read)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.common.aws import client
from pipeline.common.errors import WorkbenchError
from pipeline.settings import Settings


@dataclass(frozen=True)
class Channel:
    topic_arn: str
    queue_url: str | None


def ensure_channel(settings: Settings) -> Channel:
    """The topic, and the subscribed queue, created when missing (both calls are idempotent)."""
    where = settings.kinesis_endpoint or f"AWS ({settings.region})"
    try:
        sns = client(settings, "sns")
        topic_arn = sns.create_topic(Name=settings.alerts_topic_name)["TopicArn"]
        if not settings.alerts_queue_name:
            return Channel(topic_arn, None)
        sqs = client(settings, "sqs")
        queue_url = sqs.create_queue(QueueName=settings.alerts_queue_name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        # Only this topic may send to the queue.
        policy = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
        subscribed = any(s["Endpoint"] == queue_arn for s in
                         sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", []))
        if not subscribed:
            sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                          Attributes={"RawMessageDelivery": "true"})
        return Channel(topic_arn, queue_url)
    except (ClientError, BotoCoreError) as exc:
        raise WorkbenchError(f"cannot set up the alert topic {settings.alerts_topic_name!r} at {where}: {exc}",
                             "start the local stack with 'make up' (see 'make status')") from exc


def publish(settings: Settings, channel: Channel, subject: str, message: dict[str, Any]) -> str:
    """One message on the topic (JSON); returns its message id."""
    sns = client(settings, "sns")
    text = json.dumps(message, default=str)
    return str(sns.publish(TopicArn=channel.topic_arn, Subject=subject[:99], Message=text)["MessageId"])


def receive(settings: Settings, channel: Channel, wait_s: int = 1, limit: int = 10) -> list[dict[str, Any]]:
    """Messages waiting in the subscribed queue, taken off it."""
    if channel.queue_url is None:
        raise WorkbenchError("no queue is subscribed to the alert topic", "set WB_ALERTS_QUEUE_NAME")
    sqs = client(settings, "sqs")
    found = sqs.receive_message(QueueUrl=channel.queue_url, MaxNumberOfMessages=limit, WaitTimeSeconds=wait_s)
    messages = []
    for item in found.get("Messages", []):
        body = json.loads(item["Body"])
        if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
            body = json.loads(body["Message"])  # delivered in SNS's envelope (raw delivery off)
        messages.append(body)
        sqs.delete_message(QueueUrl=channel.queue_url, ReceiptHandle=item["ReceiptHandle"])
    return messages
