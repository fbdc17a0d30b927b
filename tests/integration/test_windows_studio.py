"""flink deploy against the local kinesisanalyticsv2 endpoint (moto): create, idempotent re-deploy.

moto 5.2.5 implements CreateApplication, DescribeApplication, ListApplications and the tagging
calls; UpdateApplication, StartApplication and CreateApplicationPresignedUrl are missing (HTTP 500),
and no Zeppelin runs, so those steps must be reported as skipped, not fail.
"""

from __future__ import annotations

import boto3
import pytest

from pipeline.settings import Settings
from pipeline.windows.studio import CONFIG_TAG, deploy
from pipeline.windows.udf import udf_jar

pytestmark = pytest.mark.stack


def test_deploy_creates_an_interactive_studio_app_and_a_second_deploy_changes_nothing(stack, unique_name):
    settings = Settings(studio_app_name=unique_name, studio_glue_database=f"{unique_name}_db")
    first = list(deploy(settings))
    jar_line = f"function jar: s3://{unique_name}-artifacts-"
    assert first[0].startswith(jar_line)
    assert first[1].startswith(f"created Studio application {unique_name}")
    assert any("skipped note import" in line for line in first)

    kda = boto3.client("kinesisanalyticsv2", **stack.boto3_kwargs())
    detail = kda.describe_application(ApplicationName=unique_name)["ApplicationDetail"]
    assert detail["ApplicationMode"] == "INTERACTIVE"
    assert detail["RuntimeEnvironment"] == "ZEPPELIN-FLINK-3_0"
    zeppelin = detail["ApplicationConfigurationDescription"]["ZeppelinApplicationConfigurationDescription"]
    glue = zeppelin["CatalogConfigurationDescription"]["GlueDataCatalogConfigurationDescription"]
    assert glue["DatabaseARN"].endswith(f":database/{unique_name}_db")
    artifacts = zeppelin["CustomArtifactsConfigurationDescription"]
    assert {a["MavenReferenceDescription"]["ArtifactId"] for a in artifacts if a["ArtifactType"] == "DEPENDENCY_JAR"} \
        == {"flink-connector-jdbc", "postgresql"}
    # the source paragraph's function: its jar, uploaded to a private bucket, as a UDF artifact
    (udf,) = [a["S3ContentLocationDescription"] for a in artifacts if a["ArtifactType"] == "UDF"]
    bucket = udf["BucketARN"].removeprefix("arn:aws:s3:::")
    s3 = boto3.client("s3", **stack.boto3_kwargs())
    assert s3.get_object(Bucket=bucket, Key=udf["FileKey"])["Body"].read() == udf_jar(settings).read_bytes()
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert detail["ServiceExecutionRole"].endswith(f"role/{unique_name}-role")
    boto3.client("glue", **stack.boto3_kwargs()).get_database(Name=f"{unique_name}_db")

    second = list(deploy(settings))
    assert second[0].startswith(jar_line)
    assert second[1] == f"Studio application {unique_name} is up to date (version 1)"
    names = [a["ApplicationName"] for a in kda.list_applications()["ApplicationSummaries"]]
    assert names.count(unique_name) == 1

    changed = list(deploy(Settings(studio_app_name=unique_name, studio_glue_database=f"{unique_name}_db",
                                   shard_count=settings.shard_count + 1)))
    assert changed[1].startswith("skipped update: UpdateApplication is not implemented")
    tags = {t["Key"]: t["Value"] for t in kda.list_tags_for_resource(ResourceARN=detail["ApplicationARN"])["Tags"]}
    assert len(tags[CONFIG_TAG]) == 64


def test_flink_note_cli_writes_a_note_without_secrets(stack, tmp_path):
    from pipeline.cli import main

    out = tmp_path / "studio.zpln"
    assert main(["flink", "note", "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert stack.pg_password not in text
    assert stack.kinesis_endpoint not in text
