"""The IAM policy of the alert watcher on AWS: what the role or user running ``alerts watch`` may do.

Pure functions, no AWS calls, so the promise is unit-tested. The watcher publishes to one topic and,
with ``alerts_queue_name`` set, reads and deletes from the one queue subscribed to it (``alerts tail``);
``sns:CreateTopic`` and the queue's set-up calls are there because the watcher makes its channel
when it is missing (both idempotent), scoped to that topic's and that queue's ARN. Nothing else: no
``sns:ListTopics`` (account-level), no other topic, no ``sqs:*``. The windows, templates and alert
state it reads and writes are in PostgreSQL and Trino, under their own roles.
"""

from __future__ import annotations

from pipeline.common.aws import client
from pipeline.ingest.iam import POLICY_VERSION, PolicyDocument, arn_parts
from pipeline.settings import Settings

TOPIC_ACTIONS = ("sns:CreateTopic", "sns:Publish", "sns:ListSubscriptionsByTopic", "sns:Subscribe")
QUEUE_ACTIONS = ("sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueUrl",
                 "sqs:ReceiveMessage", "sqs:DeleteMessage")


def topic_arn(partition: str, region: str, account: str, topic: str) -> str:
    return f"arn:{partition}:sns:{region}:{account}:{topic}"


def queue_arn(partition: str, region: str, account: str, queue: str) -> str:
    return f"arn:{partition}:sqs:{region}:{account}:{queue}"


def watcher_policy(partition: str, region: str, account: str, topic: str, queue: str | None) -> PolicyDocument:
    """The watcher's identity policy: its topic, and its queue when it has one."""
    statements = [{"Sid": "PublishAlerts", "Effect": "Allow", "Action": list(TOPIC_ACTIONS),
                   "Resource": topic_arn(partition, region, account, topic)}]
    if queue:
        statements.append({"Sid": "ReadAlertInbox", "Effect": "Allow", "Action": list(QUEUE_ACTIONS),
                           "Resource": queue_arn(partition, region, account, queue)})
    return {"Version": POLICY_VERSION, "Statement": statements}


def watcher_policy_for(settings: Settings) -> PolicyDocument:
    """The policy for the account the settings' credentials belong to (STS ``GetCallerIdentity``)."""
    partition, _, account = arn_parts(client(settings, "sts").get_caller_identity()["Arn"])
    return watcher_policy(partition, settings.region, account, settings.alerts_topic_name, settings.alerts_queue_name)
