"""The IAM documents of the ingest Lambda: who may assume its role, and what the role may do.

Pure functions, no AWS calls, so the least-privilege promise can be unit-tested line by line and
the deploy only has to compare documents. What the role gets, and why nothing more:

- **Read exactly one stream**: the five actions Lambda's event source mapping needs for a
  standard (non enhanced fan-out) iterator, per the Lambda developer guide: ``DescribeStream``,
  ``DescribeStreamSummary``, ``GetRecords``, ``GetShardIterator``, ``ListShards``, on that stream's
  ARN. ``SubscribeToShard`` is only for enhanced fan-out consumers (not used). ``ListStreams`` is
  account-level (its resource can only be ``*``) and the mapping does not need it, so it is left out.
- **Write its own logs**: ``CreateLogGroup``, ``CreateLogStream``, ``PutLogEvents`` on the log
  group ``/aws/lambda/<function>`` only. CloudWatch Logs evaluates log-group permissions against
  the ARN form with a trailing ``:*`` (the form DescribeLogGroups returns; only the tagging actions
  use the bare form), and that same pattern covers the group's log streams
  (``...:log-group:<name>:log-stream:<stream>``). This is the only wildcard: the group's own streams.
- **Send to the failure queue**: ``sqs:SendMessage`` on the queue's ARN (the on-failure
  destination of the mapping is written with the function's execution role).
- **Read the MongoDB URI** (profile ``aws`` only): ``secretsmanager:GetSecretValue`` on the one
  secret's full ARN. A secret encrypted with a customer managed KMS key would also need
  ``kms:Decrypt`` on that key; the default ``aws/secretsmanager`` key needs nothing more.
"""

from __future__ import annotations

from typing import Any

POLICY_VERSION = "2012-10-17"

KINESIS_READ_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
)
LOG_GROUP_ACTIONS = ("logs:CreateLogGroup",)
LOG_STREAM_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
QUEUE_ACTIONS = ("sqs:SendMessage",)
SECRET_ACTIONS = ("secretsmanager:GetSecretValue",)

PolicyDocument = dict[str, Any]


def arn_parts(arn: str) -> tuple[str, str, str]:
    """(partition, region, account) of an ARN, e.g. a stream's: the role lives in the same place."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[1], parts[3], parts[4]


def log_group_name(function_name: str) -> str:
    """The log group Lambda writes a function's output to (fixed by the Lambda service)."""
    return f"/aws/lambda/{function_name}"


def log_group_arn(partition: str, region: str, account: str, function_name: str) -> str:
    """The log group's ARN in the ``:*`` form IAM evaluates it in; it also covers its streams."""
    return f"arn:{partition}:logs:{region}:{account}:log-group:{log_group_name(function_name)}:*"


def trust_policy() -> PolicyDocument:
    """Only the Lambda service may assume the role."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def execution_policy(
    *,
    stream_arn: str,
    queue_arn: str,
    log_group: str,
    secret_arn: str | None = None,
) -> PolicyDocument:
    """The role's one inline policy: this stream, these logs, this queue, (this secret).

    ``log_group`` is the ARN from :func:`log_group_arn`. Every list is sorted and every statement
    has a Sid, so the document is canonical and the deploy can compare it with what IAM returns.
    """
    statements: list[dict[str, Any]] = [
        _allow("ReadTheStream", KINESIS_READ_ACTIONS, stream_arn),
        _allow("CreateOwnLogGroup", LOG_GROUP_ACTIONS, log_group),
        _allow("WriteOwnLogStreams", LOG_STREAM_ACTIONS, log_group),
        _allow("SendToFailureQueue", QUEUE_ACTIONS, queue_arn),
    ]
    if secret_arn is not None:
        statements.append(_allow("ReadMongoDbUri", SECRET_ACTIONS, secret_arn))
    return {"Version": POLICY_VERSION, "Statement": statements}


def _allow(sid: str, actions: tuple[str, ...], resource: str) -> dict[str, Any]:
    # The one wildcard allowed: a log group's trailing ":*" (its own streams).
    body = resource[:-2] if ":log-group:" in resource and resource.endswith(":*") else resource
    if "*" in body or "?" in body:
        raise ValueError(f"{sid}: refusing a wildcard resource {resource!r}")
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource}
