"""``lambda deploy`` against the local endpoint: what exists after a deploy, and that a redeploy changes nothing.

moto (5.2.5) stores functions, roles, inline policies, queues, secrets and event source mappings and
returns every mapping setting the deploy sends (BatchSize, MaximumBatchingWindowInSeconds,
StartingPosition, MaximumRetryAttempts, MaximumRecordAgeInSeconds, BisectBatchOnFunctionError,
FunctionResponseTypes, DestinationConfig), and GetFunction's CodeSha256 is base64(sha256(zip)) as on
AWS. What only a real AWS account can verify: that the policy is *sufficient* and *enforced* (moto
does not evaluate IAM), role propagation delays (moto's role is visible at once), the function
actually running on python3.12 with the bundled wheels, the mapping's Creating/Updating states and
its range checks, and the KinesisBatchInfo record arriving on the failure queue.

Each test deploys its own function, queue and stream (unique names), and removes them afterwards.
"""

from __future__ import annotations

import contextlib
import socket
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline.cli import main
from pipeline.ingest import deploy
from pipeline.ingest.iam import trust_policy
from pipeline.ingest.package import code_sha256
from pipeline.settings import Settings

pytestmark = pytest.mark.stack


def _client(settings: Settings, service: str):
    return boto3.client(service, **settings.boto3_kwargs())


def _make_settings(stack: Settings, name: str, **overrides) -> Settings:
    values = {"function_name": f"{name}-fn", "failure_queue_name": f"{name}-failures", "stream_name": name,
              "var_dir": stack.var_dir, "kinesis_port": stack.kinesis_port, "mongo_port": stack.mongo_port}
    return Settings(**(values | overrides))


def _cleanup(settings: Settings) -> None:
    lam, iam = _client(settings, "lambda"), _client(settings, "iam")
    sqs, kinesis = _client(settings, "sqs"), _client(settings, "kinesis")
    with contextlib.suppress(ClientError):
        for mapping in lam.list_event_source_mappings(FunctionName=settings.function_name)["EventSourceMappings"]:
            lam.delete_event_source_mapping(UUID=mapping["UUID"])
    with contextlib.suppress(ClientError):
        arn = lam.get_function(FunctionName=settings.function_name)["Configuration"]["FunctionArn"]
        for mapping in lam.list_event_source_mappings(FunctionName=arn)["EventSourceMappings"]:
            lam.delete_event_source_mapping(UUID=mapping["UUID"])
    with contextlib.suppress(ClientError):
        lam.delete_function(FunctionName=settings.function_name)
    role = deploy.role_name(settings)
    with contextlib.suppress(ClientError):
        iam.delete_role_policy(RoleName=role, PolicyName=deploy.policy_name(settings))
    with contextlib.suppress(ClientError):
        iam.delete_role(RoleName=role)
    with contextlib.suppress(ClientError):
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=settings.failure_queue_name)["QueueUrl"])
    with contextlib.suppress(ClientError):
        kinesis.delete_stream(StreamName=settings.stream_name)


@pytest.fixture
def make_settings(stack, unique_name):
    """Settings of one test's own deployment, its stream created first; everything removed at the end."""
    made: list[Settings] = []
    kinesis = _client(stack, "kinesis")
    kinesis.create_stream(StreamName=unique_name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})

    def make(**overrides) -> Settings:
        settings = _make_settings(stack, unique_name, **overrides)
        made.append(settings)
        return settings

    yield make
    for settings in made:
        _cleanup(settings)
    with contextlib.suppress(ClientError):
        kinesis.delete_stream(StreamName=unique_name)


def _mappings(settings: Settings, stream_arn: str) -> list[dict]:
    return _client(settings, "lambda").list_event_source_mappings(EventSourceArn=stream_arn)["EventSourceMappings"]


def _stream_arn(settings: Settings) -> str:
    summary = _client(settings, "kinesis").describe_stream_summary(StreamName=settings.stream_name)
    return summary["StreamDescriptionSummary"]["StreamARN"]


def test_deploy_creates_function_role_queue_and_mapping_as_configured(make_settings):
    settings = make_settings(batch_size=250, max_batching_window_s=2, max_retry_attempts=5, max_record_age_s=3600,
                             bisect_batch_on_error=True, report_batch_item_failures=True)

    report = deploy.deploy(settings)

    lam, iam, sqs = _client(settings, "lambda"), _client(settings, "iam"), _client(settings, "sqs")
    account = _client(settings, "sts").get_caller_identity()["Account"]
    stream_arn = _stream_arn(settings)
    assert {c.kind: c.action for c in report.changes if c.kind != "package"} == {
        "queue": "created", "role": "created", "policy": "created", "function": "created", "mapping": "created"}

    # the queue
    queue_url = sqs.get_queue_url(QueueName=settings.failure_queue_name)["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert queue["QueueArn"] == report.queue_arn
    assert queue["MessageRetentionPeriod"] == str(14 * 24 * 3600)

    # the function
    config = lam.get_function(FunctionName=settings.function_name)["Configuration"]
    assert config["Runtime"] == "python3.12" == settings.lambda_runtime
    assert config["Handler"] == "handler.handler"
    assert config["Architectures"] == ["x86_64"]
    assert config["State"] == "Active"
    assert config["Timeout"] == deploy.FUNCTION_TIMEOUT_S
    assert config["MemorySize"] == deploy.FUNCTION_MEMORY_MB
    assert config["CodeSha256"] == code_sha256(report.zip_path)
    assert config["Environment"]["Variables"] == {
        "MONGODB_URI": settings.mongo_uri,
        "MONGODB_DATABASE": settings.mongodb_database,
        "RAW_COLLECTION": settings.raw_collection,
        "QUARANTINE_COLLECTION": settings.quarantine_collection,
        "RAW_BUCKET": settings.raw_bucket,
        "MESSAGE_MAX_CHARS": str(settings.message_max_chars),
        "CLOCK_SKEW_TOLERANCE_S": str(settings.clock_skew_tolerance_s),
    }

    # the role: trusted by Lambda only, one inline policy with exactly these rights
    role = iam.get_role(RoleName=deploy.role_name(settings))["Role"]
    assert config["Role"] == role["Arn"] == report.role_arn
    assert role["AssumeRolePolicyDocument"] == trust_policy()
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == [deploy.policy_name(settings)]
    assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []
    document = iam.get_role_policy(RoleName=role["RoleName"],
                                   PolicyName=deploy.policy_name(settings))["PolicyDocument"]
    log_group = f"arn:aws:logs:{settings.region}:{account}:log-group:/aws/lambda/{settings.function_name}:*"
    granted = {(s["Effect"], action, s["Resource"]) for s in document["Statement"] for action in s["Action"]}
    assert granted == {
        ("Allow", "kinesis:DescribeStream", stream_arn),
        ("Allow", "kinesis:DescribeStreamSummary", stream_arn),
        ("Allow", "kinesis:GetRecords", stream_arn),
        ("Allow", "kinesis:GetShardIterator", stream_arn),
        ("Allow", "kinesis:ListShards", stream_arn),
        ("Allow", "logs:CreateLogGroup", log_group),
        ("Allow", "logs:CreateLogStream", log_group),
        ("Allow", "logs:PutLogEvents", log_group),
        ("Allow", "sqs:SendMessage", report.queue_arn),
    }

    # the mapping: the local trigger's settings, the queue as on-failure destination
    (mapping,) = _mappings(settings, stream_arn)
    assert mapping["UUID"] == report.mapping_uuid
    assert mapping["FunctionArn"] == config["FunctionArn"]
    assert mapping["State"] == "Enabled"
    assert mapping["BatchSize"] == 250
    assert mapping["MaximumBatchingWindowInSeconds"] == 2
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["MaximumRetryAttempts"] == 5
    assert mapping["MaximumRecordAgeInSeconds"] == 3600
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"]["OnFailure"] == {"Destination": report.queue_arn}


def test_second_deploy_changes_nothing_and_creates_no_duplicates(make_settings):
    settings = make_settings()
    first = deploy.deploy(settings)
    lam = _client(settings, "lambda")
    before = lam.get_function(FunctionName=settings.function_name)["Configuration"]

    second = deploy.deploy(settings)

    assert not second.changed
    assert {c.action for c in second.changes if c.kind != "package"} == {"unchanged"}
    assert second.zip_sha256 == first.zip_sha256
    after = lam.get_function(FunctionName=settings.function_name)["Configuration"]
    assert after["LastModified"] == before["LastModified"] and after["CodeSha256"] == before["CodeSha256"]
    mappings = _mappings(settings, _stream_arn(settings))
    assert [m["UUID"] for m in mappings] == [first.mapping_uuid] == [second.mapping_uuid]
    roles = [r for r in _client(settings, "iam").list_roles()["Roles"]
             if r["RoleName"] == deploy.role_name(settings)]
    assert len(roles) == 1
    functions = [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == settings.function_name]
    assert len(functions) == 1


def test_changed_settings_and_code_are_updated_in_place(make_settings, tmp_path):
    first = deploy.deploy(make_settings())
    changed = make_settings(batch_size=500, max_retry_attempts=-1, bisect_batch_on_error=False,
                            report_batch_item_failures=False, raw_collection="raw_logs_v2")
    source = tmp_path / "lambda"
    source.mkdir()
    (source / "handler.py").write_text("def handler(event, context):\n    return None\n")

    report = deploy.deploy(changed, source_dir=source)

    actions = {c.kind: (c.action, c.detail) for c in report.changes}
    assert actions["function"] == ("updated", "code, env RAW_COLLECTION")
    assert actions["mapping"][0] == "updated" and report.mapping_uuid == first.mapping_uuid
    assert actions["role"][0] == actions["policy"][0] == actions["queue"][0] == "unchanged"
    config = _client(changed, "lambda").get_function(FunctionName=changed.function_name)["Configuration"]
    assert config["CodeSha256"] == code_sha256(report.zip_path)
    assert report.zip_sha256 != first.zip_sha256
    assert config["Environment"]["Variables"]["RAW_COLLECTION"] == "raw_logs_v2"
    (mapping,) = _mappings(changed, _stream_arn(changed))
    assert (mapping["BatchSize"], mapping["MaximumRetryAttempts"], mapping["BisectBatchOnFunctionError"]) == (
        500, -1, False)
    assert mapping.get("FunctionResponseTypes", []) == []


def test_a_new_starting_position_replaces_the_mapping(make_settings):
    first = deploy.deploy(make_settings())

    report = deploy.deploy(make_settings(starting_position="LATEST"))

    assert [c.action for c in report.changes if c.kind == "mapping"] == ["deleted", "created"]
    (mapping,) = _mappings(first_settings := make_settings(), _stream_arn(first_settings))
    assert mapping["UUID"] == report.mapping_uuid != first.mapping_uuid
    assert mapping["StartingPosition"] == "LATEST"


def test_a_disabled_or_duplicated_mapping_is_repaired(make_settings):
    settings = make_settings()
    first = deploy.deploy(settings)
    lam = _client(settings, "lambda")
    lam.update_event_source_mapping(UUID=first.mapping_uuid, Enabled=False)
    lam.create_event_source_mapping(EventSourceArn=_stream_arn(settings), FunctionName=first.function_arn,
                                    StartingPosition="TRIM_HORIZON")

    report = deploy.deploy(settings)

    assert [c.action for c in report.changes if c.kind == "mapping"] == ["deleted", "updated"]
    (mapping,) = _mappings(settings, _stream_arn(settings))
    assert mapping["State"] == "Enabled" and mapping["UUID"] == report.mapping_uuid


def test_deployed_zip_holds_the_handler_and_cp312_manylinux_pymongo(make_settings):
    report = deploy.deploy(make_settings())

    with zipfile.ZipFile(report.zip_path) as archive:
        names = archive.namelist()
    assert "handler.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    extensions = sorted(n for n in names if n.endswith(".so"))
    assert "pymongo/_cmessage.cpython-312-x86_64-linux-gnu.so" in extensions
    assert "bson/_cbson.cpython-312-x86_64-linux-gnu.so" in extensions
    assert all("cpython-312-x86_64-linux-gnu" in n for n in extensions)
    wheel_tags = [n for n in names if n.startswith("pymongo-") and n.endswith(".dist-info/WHEEL")]
    (wheel_file,) = wheel_tags
    with zipfile.ZipFile(report.zip_path) as archive:
        tags = [line.split(": ", 1)[1] for line in archive.read(wheel_file).decode().splitlines()
                if line.startswith("Tag: ")]
    assert "cp312-cp312-manylinux2014_x86_64" in tags


def test_on_aws_the_function_gets_the_secret_arn_never_the_uri(stack, make_settings, unique_name, capsys):
    """Profile aws, pointed at the local endpoint: the URI lives in Secrets Manager only."""
    secret_name = f"{unique_name}/mongodb-uri"
    on_aws = {"profile": "aws", "mongodb_secret_name": secret_name}
    missing = make_settings(**on_aws, aws_endpoint_url=stack.kinesis_endpoint, mongodb_uri=None)

    assert main(["lambda", "deploy"], settings=missing) == 1
    error = capsys.readouterr().err
    assert f"secret {secret_name!r}" in error and "aws secretsmanager create-secret" in error
    sqs = _client(missing, "sqs")
    with pytest.raises(ClientError):  # it stopped before creating anything
        sqs.get_queue_url(QueueName=missing.failure_queue_name)

    uri = "mongodb+srv://ingest:not-a-real-password@cluster.example.net/"
    settings = make_settings(**on_aws, aws_endpoint_url=missing.kinesis_endpoint, mongodb_uri=uri)
    report = deploy.deploy(settings)

    secrets = _client(settings, "secretsmanager")
    secret = secrets.describe_secret(SecretId=secret_name)
    assert secrets.get_secret_value(SecretId=secret_name)["SecretString"] == uri
    env = _client(settings, "lambda").get_function(FunctionName=settings.function_name)["Configuration"][
        "Environment"]["Variables"]
    assert env["MONGODB_SECRET_ID"] == secret["ARN"] == report.secret_arn
    assert "MONGODB_URI" not in env and uri not in str(env)
    document = _client(settings, "iam").get_role_policy(
        RoleName=deploy.role_name(settings), PolicyName=deploy.policy_name(settings))["PolicyDocument"]
    assert document["Statement"][-1] == {"Sid": "ReadMongoDbUri", "Effect": "Allow",
                                         "Action": ["secretsmanager:GetSecretValue"], "Resource": secret["ARN"]}

    again = deploy.deploy(settings)
    assert not again.changed and any("value was kept" in w for w in again.warnings)
    with contextlib.suppress(ClientError):
        secrets.delete_secret(SecretId=secret_name, ForceDeleteWithoutRecovery=True)


def test_deploy_command_prints_the_report_or_a_clear_error(stack, make_settings, unique_name, capsys):
    settings = make_settings()
    assert main(["lambda", "deploy"], settings=settings) == 0
    assert main(["lambda", "deploy"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "created" in out and "nothing to change: 5 unchanged" in out

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    down = _make_settings(stack, unique_name, kinesis_port=free_port)  # nothing to clean up there
    assert main(["lambda", "deploy"], settings=down) == 1
    error = capsys.readouterr().err
    assert "not reachable at" in error and "fix: start the local stack" in error

    no_stream = _make_settings(stack, unique_name, stream_name=f"{unique_name}-missing")
    assert main(["lambda", "deploy"], settings=no_stream) == 1
    assert "does not exist" in capsys.readouterr().err
