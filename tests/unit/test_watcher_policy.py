"""The alert watcher's IAM policy: its topic and its queue, by ARN, and nothing else."""

from __future__ import annotations

from pipeline.live.iam import watcher_policy


def test_the_watcher_may_publish_to_its_topic_and_read_its_queue_only():
    policy = watcher_policy("aws", "eu-west-1", "111122223333", "workbench-alerts", "workbench-alerts-inbox")
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["PublishAlerts"]["Resource"] == "arn:aws:sns:eu-west-1:111122223333:workbench-alerts"
    assert by_sid["ReadAlertInbox"]["Resource"] == "arn:aws:sqs:eu-west-1:111122223333:workbench-alerts-inbox"
    actions = [a for s in policy["Statement"] for a in s["Action"]]
    assert "sns:Publish" in actions and "sqs:ReceiveMessage" in actions
    assert not any("*" in a for a in actions)
    assert not any("*" in s["Resource"] for s in policy["Statement"])
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    assert sorted(actions) == sorted([
        "sns:CreateTopic", "sns:Publish", "sns:ListSubscriptionsByTopic", "sns:Subscribe", "sqs:CreateQueue",
        "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage",
        "sqs:DeleteMessage"])


def test_without_a_queue_there_is_no_queue_statement():
    policy = watcher_policy("aws-cn", "cn-north-1", "111122223333", "alerts", None)
    assert [s["Sid"] for s in policy["Statement"]] == ["PublishAlerts"]
    assert policy["Statement"][0]["Resource"].startswith("arn:aws-cn:sns:cn-north-1:")
