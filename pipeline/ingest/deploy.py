"""Deploying the ingest Lambda and its Kinesis trigger (``lambda deploy``), on AWS or locally.

Creates or updates, idempotently, everything the function needs, in dependency order:

1. on profile ``aws``, the Secrets Manager secret holding the MongoDB URI (looked up; created from
   ``MONGODB_URI`` only when it is missing and that variable is set; never overwritten);
2. the failure queue (SQS): the mapping's on-failure destination for discarded batches;
3. a least-privilege execution role (see :mod:`pipeline.ingest.iam`);
4. the function, from the reproducible zip of :mod:`pipeline.ingest.package`;
5. the event source mapping on ``settings.stream_name``, with the very settings the local trigger
   (``lambda run``) reads, so the two behave alike.

Every step first reads what exists and changes only what differs: running the deploy twice
changes nothing the second time and reports every resource as "unchanged". The code is uploaded
only when the zip's sha256 differs from the deployed ``CodeSha256``. The mapping converges too: a
disabled one is re-enabled, a duplicate (same stream, same function: every record twice) is
deleted, and a changed StartingPosition, which AWS only takes at creation, replaces the mapping
(as CloudFormation does). Other policies someone attached to the role are reported, not removed.

The MongoDB URI is never in code: on profile ``local`` the function gets ``MONGODB_URI`` from the
settings (the local FerretDB); on ``aws`` it gets only ``MONGODB_SECRET_ID`` (the secret's ARN) and
reads the URI at cold start, with a role allowed to read that one secret.

The same code runs against moto's control plane (profile ``local``), which is how the tests
exercise it. moto stores but never runs the function; what only a real account can check is listed
in the tests' docstring.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    WaiterError,
)

from pipeline.common.aws import client, error_code, require_stream
from pipeline.common.errors import WorkbenchError
from pipeline.ingest.iam import arn_parts, execution_policy, log_group_arn, trust_policy
from pipeline.ingest.package import ARCHITECTURE, LAMBDA_SOURCE_DIR, build_zip, code_sha256, sha256_hex
from pipeline.settings import Settings

HANDLER = "handler.handler"
# A batch of up to 10,000 records goes into one insert_many; pymongo plus a batch fits in 256 MB.
FUNCTION_MEMORY_MB = 256
# Long enough for a full batch against a slow database, short enough that a hung call is retried.
FUNCTION_TIMEOUT_S = 60
FUNCTION_DESCRIPTION = "log-workbench: raw logs from Kinesis into MongoDB"
# Failed batches are the evidence of data that did not arrive: keep them the longest SQS allows.
FAILURE_QUEUE_RETENTION_S = 14 * 24 * 3600

ROLE_PROPAGATION_TIMEOUT_S = 120.0  # IAM is eventually consistent: a new role/policy takes seconds
RETRY_DELAY_S = 3.0
SETTLE_TIMEOUT_S = 300.0
MAPPING_TRANSITIONAL_STATES = {"Creating", "Enabling", "Disabling", "Updating", "Deleting"}

# What the identity running the deploy calls (the error for AccessDenied lists them).
DEPLOYER_ACTIONS = (
    "kinesis:DescribeStreamSummary",
    "sqs:GetQueueUrl", "sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
    "secretsmanager:DescribeSecret", "secretsmanager:CreateSecret",
    "iam:GetRole", "iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:GetRolePolicy", "iam:PutRolePolicy",
    "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:PassRole",
    "lambda:GetFunction", "lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
    "lambda:ListEventSourceMappings", "lambda:GetEventSourceMapping", "lambda:CreateEventSourceMapping",
    "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping",
)

Log = Callable[[str], None]


class DeployError(WorkbenchError):
    """The deploy cannot go on: says what is wrong and what to do."""


# ----------------------------------------------------------------------------------------------
# What is wanted: pure functions of the settings (and of ARNs found on the way).
# ----------------------------------------------------------------------------------------------
def check_deployable(settings: Settings) -> None:
    """Refuse settings the mapping cannot take, before anything is created."""
    if settings.starting_position == "AT_TIMESTAMP":
        # The local trigger takes the timestamp on its command line; the settings hold none to deploy.
        raise DeployError("starting position AT_TIMESTAMP needs a timestamp, and the settings have none",
                          "use WB_STARTING_POSITION=TRIM_HORIZON or LATEST for the deployed mapping")


def role_name(settings: Settings) -> str:
    return f"{settings.function_name}-role"[:64]


def policy_name(settings: Settings) -> str:
    return f"{settings.function_name}-least-privilege"[:128]


def mapping_settings(settings: Settings, queue_arn: str) -> dict[str, Any]:
    """The event source mapping's parameters: the same fields the local trigger reads."""
    check_deployable(settings)
    return {
        "BatchSize": settings.batch_size,
        "MaximumBatchingWindowInSeconds": settings.max_batching_window_s,
        "StartingPosition": settings.starting_position,
        "MaximumRetryAttempts": settings.max_retry_attempts,
        "MaximumRecordAgeInSeconds": settings.max_record_age_s,
        "BisectBatchOnFunctionError": settings.bisect_batch_on_error,
        "FunctionResponseTypes": ["ReportBatchItemFailures"] if settings.report_batch_item_failures else [],
        "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
    }


def function_environment(settings: Settings, secret_arn: str | None) -> dict[str, str]:
    """The function's variables: where MongoDB is, never the URI itself on AWS."""
    env = {
        "MONGODB_DATABASE": settings.mongodb_database,
        "RAW_COLLECTION": settings.raw_collection,
        "QUARANTINE_COLLECTION": settings.quarantine_collection,
        "RAW_BUCKET": settings.raw_bucket,
        "MESSAGE_MAX_CHARS": str(settings.message_max_chars),
        "CLOCK_SKEW_TOLERANCE_S": str(settings.clock_skew_tolerance_s),
    }
    if settings.is_local:
        env["MONGODB_URI"] = settings.mongo_uri
    else:
        if not secret_arn:
            raise DeployError("profile aws needs the ARN of the MongoDB URI secret")
        env["MONGODB_SECRET_ID"] = secret_arn
    return env


def function_configuration(settings: Settings, role_arn: str, env: dict[str, str]) -> dict[str, Any]:
    return {
        "Runtime": settings.lambda_runtime,
        "Handler": HANDLER,
        "Role": role_arn,
        "Timeout": FUNCTION_TIMEOUT_S,
        "MemorySize": FUNCTION_MEMORY_MB,
        "Description": FUNCTION_DESCRIPTION,
        "Environment": {"Variables": env},
    }


# ----------------------------------------------------------------------------------------------
# The report.
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    kind: str  # package, queue, secret, role, policy, function, mapping
    name: str
    action: str  # built (package), created, updated, deleted, unchanged
    detail: str = ""


@dataclass
class DeployReport:
    """What a deploy found and did, resource by resource."""

    profile: str
    endpoint: str | None
    zip_path: Path
    zip_sha256: str
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    queue_arn: str | None = None
    role_arn: str | None = None
    function_arn: str | None = None
    mapping_uuid: str | None = None
    secret_arn: str | None = None

    def add(self, kind: str, name: str, action: str, detail: str = "") -> None:
        self.changes.append(Change(kind, name, action, detail))

    @property
    def changed(self) -> bool:
        return any(c.kind != "package" and c.action != "unchanged" for c in self.changes)

    def format(self) -> str:
        where = self.endpoint or "AWS (credential chain)"
        lines = [f"lambda deploy: profile {self.profile}, endpoint {where}", ""]
        rows = [("resource", "name", "action", "detail")] + [
            (c.kind, c.name, c.action, c.detail) for c in self.changes
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for n, row in enumerate(rows):
            lines.append("  ".join(v.ljust(w) for v, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
            if n == 0:
                lines.append("  ".join("-" * w for w in widths) + "  ------")
        for warning in self.warnings:
            lines.append(f"warning: {warning}")
        counts: dict[str, int] = {}
        for c in self.changes:
            if c.kind != "package":
                counts[c.action] = counts.get(c.action, 0) + 1
        summary = ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
        lines.append("")
        lines.append(("nothing to change: " if not self.changed else "done: ") + summary)
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# The AWS side.
# ----------------------------------------------------------------------------------------------
class _Clients:
    """boto3 clients built from the settings, with short connect timeouts so a down endpoint fails fast."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 4, "mode": "standard"})

    def _client(self, service: str) -> Any:
        return client(self._settings, service, self._config)

    @cached_property
    def kinesis(self) -> Any:
        return self._client("kinesis")

    @cached_property
    def sqs(self) -> Any:
        return self._client("sqs")

    @cached_property
    def iam(self) -> Any:
        return self._client("iam")

    @cached_property
    def lambda_(self) -> Any:
        return self._client("lambda")

    @cached_property
    def secrets(self) -> Any:
        return self._client("secretsmanager")


def deploy(settings: Settings, source_dir: Path = LAMBDA_SOURCE_DIR, log: Log | None = None) -> DeployReport:
    """Create or update the function, its role, its failure queue and its Kinesis trigger."""
    say = log or (lambda _message: None)
    check_deployable(settings)
    say("building the deployment zip")
    zip_path = build_zip(settings, source_dir)
    report = DeployReport(profile=settings.profile, endpoint=settings.kinesis_endpoint,
                          zip_path=zip_path, zip_sha256=sha256_hex(zip_path))
    report.add("package", zip_path.name, "built", f"{zip_path.stat().st_size / 1e6:.1f} MB, sha256 "
               f"{report.zip_sha256[:16]}...")
    clients = _Clients(settings)

    stream_arn = _stream_arn(clients, settings)
    partition, region, account = arn_parts(stream_arn)
    if not settings.is_local:  # first: a missing secret stops the deploy before anything is created
        say(f"secret {settings.mongodb_secret_name}")
        report.secret_arn = _ensure_secret(clients, settings, report)
    say(f"failure queue {settings.failure_queue_name}")
    report.queue_arn = _ensure_queue(clients, settings, report)
    policy = execution_policy(
        stream_arn=stream_arn,
        queue_arn=report.queue_arn,
        log_group=log_group_arn(partition, region, account, settings.function_name),
        secret_arn=report.secret_arn,
    )
    say(f"role {role_name(settings)}")
    report.role_arn = _ensure_role(clients, settings, policy, report)
    say(f"function {settings.function_name}")
    env = function_environment(settings, report.secret_arn)
    config = function_configuration(settings, report.role_arn, env)
    report.function_arn = _ensure_function(clients, settings, zip_path, config, report)
    say(f"event source mapping {settings.stream_name} -> {settings.function_name}")
    wanted = mapping_settings(settings, report.queue_arn)
    report.mapping_uuid = _ensure_mapping(clients, settings, stream_arn, report.function_arn, wanted, report)
    return report


def _stream_arn(clients: _Clients, settings: Settings) -> str:
    return str(require_stream(settings, kinesis=clients.kinesis)["StreamARN"])


def _ensure_queue(clients: _Clients, settings: Settings, report: DeployReport) -> str:
    name = settings.failure_queue_name
    sqs = clients.sqs
    wanted = {"MessageRetentionPeriod": str(FAILURE_QUEUE_RETENTION_S)}
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        if error_code(exc) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        url = sqs.create_queue(QueueName=name, Attributes=wanted)["QueueUrl"]
        action = "created"
    else:
        current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(wanted))["Attributes"]
        differs = {k: v for k, v in wanted.items() if current.get(k) != v}
        if differs:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=differs)
        action = "updated" if differs else "unchanged"
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    report.add("queue", name, action, arn)
    return str(arn)


def _ensure_secret(clients: _Clients, settings: Settings, report: DeployReport) -> str:
    """The secret's ARN. Created from MONGODB_URI only when missing; an existing value is never touched."""
    name = settings.mongodb_secret_name
    try:
        described = clients.secrets.describe_secret(SecretId=name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        if settings.mongodb_uri is None:
            raise DeployError(
                f"the Secrets Manager secret {name!r} (the MongoDB URI the function reads) does not exist in "
                f"{settings.region}",
                f"create it: aws secretsmanager create-secret --name {name} --secret-string '<mongodb+srv://...>' "
                "(or set MONGODB_URI for this deploy: it then creates the secret from it)",
            ) from exc
        created = clients.secrets.create_secret(
            Name=name, SecretString=settings.mongodb_uri.get_secret_value(),
            Description="MongoDB URI of the log-workbench ingest Lambda",
        )
        report.add("secret", name, "created", "from MONGODB_URI")
        return str(created["ARN"])
    if described.get("DeletedDate"):
        raise DeployError(f"the secret {name!r} is scheduled for deletion",
                          f"restore it: aws secretsmanager restore-secret --secret-id {name}")
    if settings.mongodb_uri is not None:
        report.warnings.append(f"MONGODB_URI is set but secret {name!r} exists: its value was kept; change it "
                               f"with: aws secretsmanager put-secret-value --secret-id {name} --secret-string ...")
    report.add("secret", name, "unchanged", "value not read")
    return str(described["ARN"])


def _canonical(document: Any) -> str:
    if isinstance(document, str):  # IAM returns URL-decoded JSON text on some paths
        document = json.loads(document)
    return json.dumps(_normalized(document), sort_keys=True)


def _normalized(value: Any) -> Any:
    """IAM accepts an action/resource as a string or a one-element list; compare them as equal."""
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normalized(v) for v in value]
        if len(items) == 1 and isinstance(items[0], str):
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _ensure_role(clients: _Clients, settings: Settings, policy: dict[str, Any], report: DeployReport) -> str:
    iam = clients.iam
    name = role_name(settings)
    trust = trust_policy()
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        description = f"execution role of the {settings.function_name} Lambda (least privilege)"
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                               Description=description)["Role"]
        report.add("role", name, "created", role["Arn"])
    else:
        if _canonical(role["AssumeRolePolicyDocument"]) != _canonical(trust):
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            report.add("role", name, "updated", "trust policy")
        else:
            report.add("role", name, "unchanged", role["Arn"])

    pname = policy_name(settings)
    try:
        current = iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        current = None
    if current is not None and _canonical(current) == _canonical(policy):
        report.add("policy", pname, "unchanged", _policy_summary(policy))
    else:
        iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=json.dumps(policy))
        report.add("policy", pname, "created" if current is None else "updated", _policy_summary(policy))

    # Least privilege means nothing else grants more: report (never delete) what others attached.
    others = [p for p in iam.list_role_policies(RoleName=name)["PolicyNames"] if p != pname]
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
    if others or attached:
        report.warnings.append(f"role {name} has other policies that widen its rights: {', '.join(others + attached)}")
    return str(role["Arn"])


def _policy_summary(policy: dict[str, Any]) -> str:
    return ", ".join(statement["Sid"] for statement in policy["Statement"])


def _retry_while_iam_propagates(call: Callable[[], Any]) -> Any:
    """Run ``call``, retrying while Lambda does not yet see a new role or its policy."""
    deadline = time.monotonic() + ROLE_PROPAGATION_TIMEOUT_S
    while True:
        try:
            return call()
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", "")).lower()
            propagating = error_code(exc) == "InvalidParameterValueException" and (
                "role" in message or "permission" in message
            )
            if not propagating or time.monotonic() > deadline:
                raise
            time.sleep(RETRY_DELAY_S)


def _wait_function(clients: _Clients, name: str, waiter: str) -> None:
    try:
        clients.lambda_.get_waiter(waiter).wait(
            FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": int(SETTLE_TIMEOUT_S / 2)}
        )
    except WaiterError as exc:
        raise DeployError(f"function {name} did not become ready ({waiter}): {exc}",
                          "look at the function's State/LastUpdateStatusReason in the Lambda console") from exc


def _ensure_function(clients: _Clients, settings: Settings, zip_path: Path, wanted: dict[str, Any],
                     report: DeployReport) -> str:
    lam = clients.lambda_
    name = settings.function_name
    try:
        current = lam.get_function(FunctionName=name)["Configuration"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        zip_bytes = zip_path.read_bytes()
        created = _retry_while_iam_propagates(lambda: lam.create_function(
            FunctionName=name, Code={"ZipFile": zip_bytes}, PackageType="Zip",
            Architectures=[ARCHITECTURE], Publish=False, **wanted,
        ))
        _wait_function(clients, name, "function_active_v2")
        report.add("function", name, "created", f"{wanted['Runtime']} {wanted['Handler']}")
        return str(created["FunctionArn"])

    # An earlier deploy may still be settling: AWS refuses updates until it is done.
    _wait_function(clients, name, "function_active_v2")
    _wait_function(clients, name, "function_updated_v2")
    updated = []
    if current.get("CodeSha256") != code_sha256(zip_path) or current.get("Architectures", [ARCHITECTURE]) != [
        ARCHITECTURE
    ]:
        lam.update_function_code(FunctionName=name, ZipFile=zip_path.read_bytes(), Architectures=[ARCHITECTURE])
        _wait_function(clients, name, "function_updated_v2")
        updated.append("code")
    differing = [key for key, value in wanted.items() if _function_value(current, key) != value]
    if differing:
        _retry_while_iam_propagates(lambda: lam.update_function_configuration(FunctionName=name, **wanted))
        _wait_function(clients, name, "function_updated_v2")
        updated += [_describe_config_change(key, current, wanted) for key in differing]
    report.add("function", name, "updated" if updated else "unchanged",
               ", ".join(updated) if updated else f"{wanted['Runtime']} {wanted['Handler']}")
    return str(current["FunctionArn"])


def _function_value(current: dict[str, Any], key: str) -> Any:
    if key == "Environment":
        return {"Variables": current.get("Environment", {}).get("Variables", {})}
    if key == "Description":
        return current.get(key, "")
    return current.get(key)


def _describe_config_change(key: str, current: dict[str, Any], wanted: dict[str, Any]) -> str:
    """Which setting changed; for variables only their names (the local URI is not for logs)."""
    if key != "Environment":
        return key
    before = current.get("Environment", {}).get("Variables", {})
    after = wanted["Environment"]["Variables"]
    names = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return "env " + "/".join(names)


def _same_function(arn: str, function_arn: str) -> bool:
    return arn.removesuffix(":$LATEST") == function_arn.removesuffix(":$LATEST")


def _list_mappings(clients: _Clients, stream_arn: str, function_arn: str) -> list[dict[str, Any]]:
    paginator = clients.lambda_.get_paginator("list_event_source_mappings")
    found = []
    for page in paginator.paginate(EventSourceArn=stream_arn):
        found += [m for m in page["EventSourceMappings"] if _same_function(m["FunctionArn"], function_arn)]
    return sorted(found, key=lambda m: (str(m.get("LastModified", "")), m["UUID"]))


def _mapping_value(current: dict[str, Any], key: str) -> Any:
    if key == "FunctionResponseTypes":
        return sorted(current.get(key) or [])
    if key == "DestinationConfig":
        destination = (current.get(key) or {}).get("OnFailure", {}).get("Destination")
        return {"OnFailure": {"Destination": destination}}
    return current.get(key)


def _mapping_differences(current: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The wanted settings the mapping does not have (plus Enabled when it was disabled)."""
    differing = [key for key, value in wanted.items() if _mapping_value(current, key) != value]
    if current.get("State") in ("Disabled", "Disabling"):
        differing.append("Enabled")
    return differing


def _settle_mapping(clients: _Clients, uuid: str, *, gone_ok: bool = False) -> dict[str, Any] | None:
    """Wait until a mapping is out of Creating/Updating/...; None once it is deleted (if gone_ok)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        try:
            mapping = clients.lambda_.get_event_source_mapping(UUID=uuid)
        except ClientError as exc:
            if gone_ok and error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        if mapping.get("State") not in MAPPING_TRANSITIONAL_STATES:
            return dict(mapping)
        if time.monotonic() > deadline:
            raise DeployError(f"event source mapping {uuid} stayed {mapping.get('State')} for "
                              f"{SETTLE_TIMEOUT_S:.0f} s", "look at its StateTransitionReason, then deploy again")
        time.sleep(RETRY_DELAY_S)


def _delete_mapping(clients: _Clients, uuid: str) -> None:
    _settle_mapping(clients, uuid, gone_ok=True)
    clients.lambda_.delete_event_source_mapping(UUID=uuid)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while _settle_mapping(clients, uuid, gone_ok=True) is not None and time.monotonic() < deadline:
        time.sleep(RETRY_DELAY_S)


def _ensure_mapping(clients: _Clients, settings: Settings, stream_arn: str, function_arn: str,
                    wanted: dict[str, Any], report: DeployReport) -> str:
    lam = clients.lambda_
    label = f"{settings.stream_name} -> {settings.function_name}"
    summary = _mapping_summary(wanted)
    mappings = _list_mappings(clients, stream_arn, function_arn)
    # Two mappings of one stream to one function would invoke it twice per record: keep the one
    # closest to the wanted settings (the oldest among equals), delete the others.
    mappings.sort(key=lambda m: len(_mapping_differences(m, wanted)))
    for extra in mappings[1:]:
        _delete_mapping(clients, extra["UUID"])
        report.add("mapping", label, "deleted", f"duplicate {extra['UUID']}")
    existing = mappings[0] if mappings else None

    if existing is not None and existing.get("StartingPosition") != wanted["StartingPosition"]:
        # StartingPosition can only be set at creation (as in CloudFormation: a replacement).
        _delete_mapping(clients, existing["UUID"])
        report.add("mapping", label, "deleted", f"{existing['UUID']}: StartingPosition "
                   f"{existing.get('StartingPosition')} -> {wanted['StartingPosition']} needs a new mapping")
        existing = None

    if existing is None:
        created = _retry_while_iam_propagates(lambda: lam.create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName=function_arn, Enabled=True, **wanted,
        ))
        _settle_mapping(clients, created["UUID"])
        report.add("mapping", label, "created", f"{created['UUID']}: {summary}")
        return str(created["UUID"])

    uuid = str(existing["UUID"])
    current = _settle_mapping(clients, uuid) or existing
    differing = [key for key in _mapping_differences(current, wanted) if key != "StartingPosition"]
    if differing:
        updatable = {k: v for k, v in wanted.items() if k != "StartingPosition"}
        _retry_while_iam_propagates(lambda: lam.update_event_source_mapping(
            UUID=uuid, FunctionName=function_arn, Enabled=True, **updatable,
        ))
        _settle_mapping(clients, uuid)
        report.add("mapping", label, "updated", f"{uuid}: {', '.join(differing)}")
    else:
        report.add("mapping", label, "unchanged", f"{uuid}: {summary}")
    return uuid


def _mapping_summary(wanted: dict[str, Any]) -> str:
    return (f"batch {wanted['BatchSize']}, window {wanted['MaximumBatchingWindowInSeconds']} s, "
            f"{wanted['StartingPosition']}, retries {wanted['MaximumRetryAttempts']}, "
            f"max age {wanted['MaximumRecordAgeInSeconds']} s, bisect {wanted['BisectBatchOnFunctionError']}, "
            f"{'/'.join(wanted['FunctionResponseTypes']) or 'no partial batch response'}")


# ----------------------------------------------------------------------------------------------
# Dry run: what would be deployed, without calling AWS.
# ----------------------------------------------------------------------------------------------
def format_plan(settings: Settings, zip_path: Path) -> str:
    """The plan of a deploy, from the settings alone (account-specific ARN parts left as <account>)."""
    account, partition, region = "<account>", "aws", settings.region
    stream_arn = f"arn:{partition}:kinesis:{region}:{account}:stream/{settings.stream_name}"
    queue_arn = f"arn:{partition}:sqs:{region}:{account}:{settings.failure_queue_name}"
    secret_arn = None if settings.is_local else (
        f"arn:{partition}:secretsmanager:{region}:{account}:secret:{settings.mongodb_secret_name}-<suffix>")
    policy = execution_policy(
        stream_arn=stream_arn, queue_arn=queue_arn, secret_arn=secret_arn,
        log_group=log_group_arn(partition, region, account, settings.function_name),
    )
    env_names = sorted(function_environment(settings, secret_arn))
    wanted = mapping_settings(settings, queue_arn)
    lines = [
        f"lambda deploy --dry-run: profile {settings.profile}, endpoint "
        f"{settings.kinesis_endpoint or 'AWS (credential chain)'}; nothing was sent",
        f"package   {zip_path} ({zip_path.stat().st_size / 1e6:.1f} MB, sha256 {sha256_hex(zip_path)})",
        f"queue     {settings.failure_queue_name} (retention {FAILURE_QUEUE_RETENTION_S} s)",
    ]
    if secret_arn:
        lines.append(f"secret    {settings.mongodb_secret_name} (must exist, or MONGODB_URI set to create it)")
    lines += [
        f"role      {role_name(settings)} (trusts lambda.amazonaws.com), inline policy {policy_name(settings)}:",
        *("            " + line for line in json.dumps(policy, indent=2).splitlines()),
        f"function  {settings.function_name}: {settings.lambda_runtime} {HANDLER} {ARCHITECTURE}, "
        f"{FUNCTION_MEMORY_MB} MB, timeout {FUNCTION_TIMEOUT_S} s, env {', '.join(env_names)}",
        f"mapping   {settings.stream_name} -> {settings.function_name}: {_mapping_summary(wanted)}, "
        f"on failure -> {settings.failure_queue_name}",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# AWS's errors, explained.
# ----------------------------------------------------------------------------------------------
@contextmanager
def explained_aws_errors(settings: Settings) -> Iterator[None]:
    """Turn what boto3 raises into DeployError with what to do about it."""
    try:
        yield
    except NoCredentialsError as exc:
        raise DeployError("no AWS credentials found", "configure the credential chain (aws configure, AWS_PROFILE, "
                          "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)") from exc
    except EndpointConnectionError as exc:
        fix = ("start the local stack: make up (and check WB_KINESIS_PORT)" if settings.kinesis_endpoint
               else "check the network and WB_REGION")
        raise DeployError(f"cannot reach the AWS endpoint: {exc}", fix) from exc
    except ClientError as exc:
        raise DeployError(_client_error_message(exc)) from exc
    except (BotoCoreError, WaiterError) as exc:
        raise DeployError(f"AWS call failed: {exc}") from exc


def deploy_function(settings: Settings, log: Log | None = None) -> DeployReport:
    """``deploy`` with every AWS error explained (DeployError)."""
    with explained_aws_errors(settings):
        return deploy(settings, log=log)


def plan(settings: Settings) -> str:
    """The dry run: build the package and describe the deploy, without calling AWS."""
    return format_plan(settings, build_zip(settings))


def _client_error_message(exc: ClientError) -> str:
    code = error_code(exc)
    operation = getattr(exc, "operation_name", "a call")
    message = exc.response.get("Error", {}).get("Message", "")
    if "AccessDenied" in code or code in ("UnauthorizedOperation", "UnrecognizedClientException",
                                          "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException"):
        return (f"AWS refused {operation} ({code}): {message}\n  fix: refresh expired credentials, or grant the "
                f"deploying identity these actions on the function's resources: {', '.join(DEPLOYER_ACTIONS)}")
    return f"{operation} failed ({code}): {message}"
