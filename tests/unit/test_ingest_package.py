"""The deployment zip and the documents the deploy writes, without any server.

The first build downloads the runtime's wheels of pymongo and dnspython from PyPI (about 1.4 MB)
into the cache; every later build, here and in the integration tests, is offline.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tomllib
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from pipeline.cli import main
from pipeline.ingest import deploy, iam, package
from pipeline.ingest.package import PackageError, RuntimeTarget, build_zip
from pipeline.settings import PROJECT_ROOT, Settings

STREAM_ARN = "arn:aws:kinesis:eu-west-1:111122223333:stream/log-stream"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:111122223333:log-ingest-failures"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:log-workbench/mongodb-uri-AbCdEf"
LOG_GROUP_ARN = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/log-ingest:*"


def _placeholder_source(root: Path) -> Path:
    """A stand-in for lambda/, with the clutter a working copy has: caches, tests, dotfiles."""
    source = root / "lambda"
    (source / "__pycache__").mkdir(parents=True)
    (source / "tests").mkdir()
    (source / "handler.py").write_text("def handler(event, context):\n    return {'batchItemFailures': []}\n")
    (source / "helpers.py").write_text("VALUE = 1\n")
    (source / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\x00cache")
    (source / "tests" / "test_handler.py").write_text("def test(): pass\n")
    (source / ".gitkeep").write_text("")
    return source


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """The same sources built twice, by two 'checkouts' whose files differ in mtime and mode."""
    first_root = tmp_path_factory.mktemp("first")
    second_root = tmp_path_factory.mktemp("second")
    first = build_zip(Settings(var_dir=first_root / "var"), _placeholder_source(first_root))
    source = _placeholder_source(second_root)
    for path in source.rglob("*"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
    (source / "helpers.py").chmod(0o600)
    second = build_zip(Settings(var_dir=second_root / "var"), source)
    return first, second


def test_two_builds_give_byte_identical_zips(two_builds):
    first, second = two_builds
    assert first != second
    assert _sha256(first) == _sha256(second)
    assert package.code_sha256(first) == package.code_sha256(second)


def test_zip_entries_are_sorted_with_fixed_time_and_mode(two_builds):
    with zipfile.ZipFile(two_builds[0]) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {stat.S_IMODE(i.external_attr >> 16) for i in infos} == {0o644}
    assert all(not i.is_dir() for i in infos)


def test_zip_holds_the_sources_and_runtime_wheels_without_clutter(two_builds):
    with zipfile.ZipFile(two_builds[0]) as archive:
        names = archive.namelist()
    assert {"handler.py", "helpers.py"} <= set(names)
    assert "pymongo/__init__.py" in names and "bson/__init__.py" in names and "dns/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith(("tests/", "."))]
    extensions = [n for n in names if n.endswith(".so")]
    assert extensions and all(n.endswith(".cpython-312-x86_64-linux-gnu.so") for n in extensions)


def test_bundled_versions_are_the_project_pins():
    pins = package.pinned_versions()
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"pymongo=={pins['pymongo']}" in project
    assert set(pins) == {"pymongo", "dnspython"}


def test_wheels_are_downloaded_once_into_the_cache(two_builds, monkeypatch):
    def no_download(*_args, **_kwargs):
        raise AssertionError("a cached wheel was downloaded again")

    monkeypatch.setattr(package, "_download_wheel", no_download)
    wheels = package.fetch_wheels(Settings())
    assert sorted(w.name.split("-")[0] for w in wheels) == ["dnspython", "pymongo"]
    assert all(w.parent == package.wheel_cache_dir(Settings()) for w in wheels)


def test_a_wheel_for_another_python_or_platform_is_refused(tmp_path):
    target = RuntimeTarget.from_runtime("python3.12")
    for wrong in ("pymongo-4.20.1-cp311-cp311-manylinux2014_x86_64.whl",
                  "pymongo-4.20.1-cp312-cp312-manylinux2014_aarch64.whl",
                  "pymongo-4.20.1-cp312-cp312-win_amd64.whl"):
        with pytest.raises(PackageError):
            package._check_wheel_fits(tmp_path / wrong, target)
    package._check_wheel_fits(tmp_path / "dnspython-2.9.2-py3-none-any.whl", target)


def test_runtime_names_map_to_pip_targets():
    assert RuntimeTarget.from_runtime("python3.12").abi == "cp312"
    with pytest.raises(PackageError):
        RuntimeTarget.from_runtime("nodejs20.x")


def test_a_source_folder_without_handler_is_refused(tmp_path):
    (tmp_path / "other.py").write_text("")
    with pytest.raises(PackageError, match=r"handler\.py"):
        package.source_files(tmp_path)


# --- the least-privilege policy ---------------------------------------------------------------
def test_execution_policy_grants_exactly_stream_logs_and_queue():
    policy = iam.execution_policy(stream_arn=STREAM_ARN, queue_arn=QUEUE_ARN, log_group=LOG_GROUP_ARN)

    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadTheStream", "Effect": "Allow",
             "Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                        "kinesis:GetShardIterator", "kinesis:ListShards"],
             "Resource": STREAM_ARN},
            {"Sid": "CreateOwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogGroup"],
             "Resource": LOG_GROUP_ARN},
            {"Sid": "WriteOwnLogStreams", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": LOG_GROUP_ARN},
            {"Sid": "SendToFailureQueue", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": QUEUE_ARN},
        ],
    }


def test_execution_policy_on_aws_adds_only_the_one_secret():
    policy = iam.execution_policy(stream_arn=STREAM_ARN, queue_arn=QUEUE_ARN, log_group=LOG_GROUP_ARN,
                                           secret_arn=SECRET_ARN)
    assert policy["Statement"][-1] == {"Sid": "ReadMongoDbUri", "Effect": "Allow",
                                       "Action": ["secretsmanager:GetSecretValue"], "Resource": SECRET_ARN}
    assert len(policy["Statement"]) == 5


def test_no_wildcard_action_and_no_wildcard_resource_but_the_log_streams():
    policy = iam.execution_policy(stream_arn=STREAM_ARN, queue_arn=QUEUE_ARN, log_group=LOG_GROUP_ARN,
                                           secret_arn=SECRET_ARN)
    for statement in policy["Statement"]:
        assert all("*" not in action for action in statement["Action"])
        if statement["Resource"] != LOG_GROUP_ARN:
            assert "*" not in statement["Resource"]
    for bad in ("*", "arn:aws:sqs:eu-west-1:111122223333:*", "arn:aws:kinesis:*:111122223333:stream/log-stream"):
        with pytest.raises(ValueError, match="wildcard"):
            iam.execution_policy(stream_arn=bad, queue_arn=QUEUE_ARN, log_group=LOG_GROUP_ARN)


def test_log_group_arn_and_trust_policy():
    assert iam.log_group_arn("aws", "eu-west-1", "111122223333", "log-ingest") == LOG_GROUP_ARN
    assert iam.arn_parts(STREAM_ARN) == ("aws", "eu-west-1", "111122223333")
    assert iam.trust_policy()["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]


# --- what the deploy asks for -------------------------------------------------------------------
def test_mapping_settings_are_the_trigger_settings():
    settings = Settings(batch_size=250, max_batching_window_s=3, starting_position="LATEST", max_retry_attempts=7,
                        max_record_age_s=3600, bisect_batch_on_error=False, report_batch_item_failures=True)
    assert deploy.mapping_settings(settings, QUEUE_ARN) == {
        "BatchSize": 250,
        "MaximumBatchingWindowInSeconds": 3,
        "StartingPosition": "LATEST",
        "MaximumRetryAttempts": 7,
        "MaximumRecordAgeInSeconds": 3600,
        "BisectBatchOnFunctionError": False,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": QUEUE_ARN}},
    }
    without = Settings(report_batch_item_failures=False)
    assert deploy.mapping_settings(without, QUEUE_ARN)["FunctionResponseTypes"] == []


def test_the_uri_is_an_environment_variable_only_locally():
    local = Settings(profile="local", mongodb_uri=None)
    assert deploy.function_environment(local, None)["MONGODB_URI"] == local.mongo_uri

    on_aws = deploy.function_environment(
        Settings(profile="aws", mongodb_uri="mongodb+srv://user:pw@cluster.example/"), SECRET_ARN)
    assert on_aws == {"MONGODB_SECRET_ID": SECRET_ARN, "MONGODB_DATABASE": "logs", "RAW_COLLECTION": "raw_logs",
                      "QUARANTINE_COLLECTION": "quarantine", "RAW_BUCKET": "hour", "MESSAGE_MAX_CHARS": "32768",
                      "CLOCK_SKEW_TOLERANCE_S": "300"}


def test_access_denied_is_explained():
    error = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "CreateFunction")
    message = deploy._client_error_message(error)
    assert "AWS refused CreateFunction" in message and "iam:PassRole" in message


def test_dry_run_builds_and_plans_without_calling_aws(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(deploy, "deploy", lambda *a, **k: pytest.fail("the dry run called AWS"))
    settings = Settings(var_dir=tmp_path, kinesis_port=1)  # nothing listens there
    monkeypatch.setattr(deploy, "build_zip", lambda s: build_zip(s, _placeholder_source(tmp_path)))

    assert main(["lambda", "deploy", "--dry-run"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "nothing was sent" in out and '"kinesis:GetRecords"' in out and "ReportBatchItemFailures" in out
    assert settings.mongo_uri not in out  # variable names only
