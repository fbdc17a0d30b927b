"""``flink deploy``: create or update the Managed Flink Studio application and import the note.

The source paragraph's function ``log_time`` lives in a jar (``pipeline/windows/udf.py``): deploy
uploads it to a private S3 bucket under a name derived from its content and gives it to the
application as a custom artifact of type UDF, which Studio puts on the notebook's class path.

Idempotent: the desired configuration is fingerprinted (sha256) into a tag on the application; a
second deploy with the same settings changes nothing, a different one calls UpdateApplication.
Then the application is started (Studio notebooks run only in a RUNNING application) and the note
of ``flink note`` is imported through Zeppelin's REST API behind the presigned URL, with the JDBC
password filled in memory from the settings (the rendered file never holds it).

Against the local endpoint (moto 5.2.5) only CreateApplication, DescribeApplication,
ListApplications, TagResource and ListTagsForResource exist; UpdateApplication, StartApplication and
CreateApplicationPresignedUrl do not, and no Zeppelin runs: those steps are reported as skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import botocore.exceptions

from pipeline.common.aws import client
from pipeline.common.errors import WorkbenchError
from pipeline.settings import Settings
from pipeline.windows.note import fill_secrets, render_note, unfilled_markers
from pipeline.windows.udf import udf_jar

CONFIG_TAG = "workbench-config-sha256"
# Studio (Zeppelin 0.10, Flink 1.15): the JDBC connector of Flink 1.15 and the PostgreSQL driver.
CUSTOM_ARTIFACTS = (
    ("org.apache.flink", "flink-connector-jdbc", "1.15.4"),
    ("org.postgresql", "postgresql", "42.7.8"),
)
ROLE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "kinesisanalytics.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}


UDF_PREFIX = "flink-udf/"


def artifact_bucket(settings: Settings, account: str) -> str:
    return settings.studio_artifact_bucket or f"{settings.studio_app_name}-artifacts-{account}".lower()


def role_policy(settings: Settings, account: str) -> dict:
    """What the notebook needs: read the stream, use the Glue catalog, reach RDS in the VPC, log, and
    read its function's jar."""
    region = settings.region
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary",
                                           "kinesis:GetShardIterator", "kinesis:GetRecords",
                                           "kinesis:ListShards"],
             "Resource": f"arn:aws:kinesis:{region}:{account}:stream/{settings.stream_name}"},
            {"Effect": "Allow", "Action": ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable",
                                           "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
                                           "glue:DeleteTable", "glue:GetPartitions", "glue:GetUserDefinedFunction"],
             "Resource": [f"arn:aws:glue:{region}:{account}:catalog",
                          f"arn:aws:glue:{region}:{account}:database/{settings.studio_glue_database}",
                          f"arn:aws:glue:{region}:{account}:table/{settings.studio_glue_database}/*"]},
            {"Effect": "Allow", "Action": ["ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                                           "ec2:DescribeDhcpOptions", "ec2:CreateNetworkInterface",
                                           "ec2:CreateNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces",
                                           "ec2:DeleteNetworkInterface"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["logs:DescribeLogGroups", "logs:DescribeLogStreams",
                                           "logs:PutLogEvents"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:GetObject"],
             "Resource": f"arn:aws:s3:::{artifact_bucket(settings, account)}/{UDF_PREFIX}*"},
        ],
    }


def ensure_role(settings: Settings, account: str) -> str:
    """The service execution role: WB_STUDIO_ROLE_ARN, else one created (or found) by name."""
    if settings.studio_role_arn:
        return settings.studio_role_arn
    iam = client(settings, "iam")
    name = f"{settings.studio_app_name}-role"
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ROLE_TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="studio-access",
                        PolicyDocument=json.dumps(role_policy(settings, account)))
    return arn


def ensure_glue_database(settings: Settings) -> None:
    glue = client(settings, "glue")
    try:
        glue.get_database(Name=settings.studio_glue_database)
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(DatabaseInput={"Name": settings.studio_glue_database,
                                            "Description": "tables of the log-workbench Studio notebook"})


def ensure_udf_artifact(settings: Settings, account: str) -> tuple[str, str]:
    """The function's jar in S3 (bucket, key), uploaded once per content: the key carries its digest."""
    s3 = client(settings, "s3")
    bucket = artifact_bucket(settings, account)
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise WorkbenchError(f"S3 bucket {bucket} exists but is not reachable with these credentials",
                                 "set WB_STUDIO_ARTIFACT_BUCKET to a bucket of this account") from exc
        location = {} if settings.region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": settings.region}}
        s3.create_bucket(Bucket=bucket, **location)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
    jar = udf_jar(settings)
    key = UDF_PREFIX + jar.name
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError:
        s3.upload_file(str(jar), bucket, key)
    return bucket, key


def application_configuration(settings: Settings, account: str, udf: tuple[str, str]) -> dict:
    """The Studio application's configuration (interactive Zeppelin-Flink, Glue, custom artifacts:
    the connector jars from Maven and the function's jar, ``udf`` = (bucket, key), from S3)."""
    config: dict = {
        "FlinkApplicationConfiguration": {
            "ParallelismConfiguration": {"ConfigurationType": "CUSTOM", "Parallelism": settings.shard_count,
                                         "ParallelismPerKPU": 1, "AutoScalingEnabled": False},
        },
        "ZeppelinApplicationConfiguration": {
            "MonitoringConfiguration": {"LogLevel": "INFO"},
            "CatalogConfiguration": {"GlueDataCatalogConfiguration": {
                "DatabaseARN": f"arn:aws:glue:{settings.region}:{account}:database/{settings.studio_glue_database}"}},
            "CustomArtifactsConfiguration": [
                *({"ArtifactType": "DEPENDENCY_JAR",
                   "MavenReference": {"GroupId": group, "ArtifactId": artifact, "Version": version}}
                  for group, artifact, version in CUSTOM_ARTIFACTS),
                {"ArtifactType": "UDF",
                 "S3ContentLocation": {"BucketARN": f"arn:aws:s3:::{udf[0]}", "FileKey": udf[1]}},
            ],
        },
    }
    if settings.studio_subnet_ids:
        config["VpcConfigurations"] = [{"SubnetIds": settings.studio_subnet_ids,
                                        "SecurityGroupIds": settings.studio_security_group_ids}]
    return config


def fingerprint(role_arn: str, config: dict, runtime: str) -> str:
    payload = json.dumps({"role": role_arn, "config": config, "runtime": runtime}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _find(client, name: str) -> dict | None:  # noqa: ANN001
    """The application's summary, via ListApplications (moto's Describe fails hard on a missing one)."""
    for page in client.get_paginator("list_applications").paginate():
        for app in page["ApplicationSummaries"]:
            if app["ApplicationName"] == name:
                return app
    return None


def _unsupported(exc: botocore.exceptions.ClientError, local: bool) -> bool:
    """An operation the endpoint lacks: moto answers unimplemented ones with a bare HTTP 500."""
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in ("NotImplemented", "InvalidAction", "UnknownOperationException") or status in (404, 501):
        return True
    return local and status == 500


def deploy(settings: Settings, start: bool = True, import_note: bool = True) -> Iterator[str]:
    """Create/update, start, import; yields one line per step (the CLI prints them)."""
    local = settings.kinesis_endpoint is not None
    account = client(settings, "sts").get_caller_identity()["Account"]
    note = render_note(settings)
    missing = [m for m in unfilled_markers(note) if m != "{{JDBC_PASSWORD}}"]
    if missing and not local:
        raise WorkbenchError(f"the note still has markers {', '.join(missing)}",
                         "set WB_STUDIO_JDBC_URL (or WB_POSTGRES_HOST) to the RDS endpoint")
    ensure_glue_database(settings)
    role_arn = ensure_role(settings, account)
    udf = ensure_udf_artifact(settings, account)
    yield f"function jar: s3://{udf[0]}/{udf[1]}"
    config = application_configuration(settings, account, udf)
    wanted = fingerprint(role_arn, config, settings.studio_runtime)
    kda = client(settings, "kinesisanalyticsv2")
    name = settings.studio_app_name
    summary = _find(kda, name)
    if summary is None:
        created = kda.create_application(
            ApplicationName=name, ApplicationDescription="log-workbench: Flink SQL windows into PostgreSQL",
            RuntimeEnvironment=settings.studio_runtime, ServiceExecutionRole=role_arn,
            ApplicationConfiguration=config, ApplicationMode="INTERACTIVE",
            Tags=[{"Key": CONFIG_TAG, "Value": wanted}])["ApplicationDetail"]
        arn = created["ApplicationARN"]
        yield f"created Studio application {name} ({arn})"
    else:
        arn = summary["ApplicationARN"]
        tags = {t["Key"]: t["Value"] for t in kda.list_tags_for_resource(ResourceARN=arn)["Tags"]}
        if tags.get(CONFIG_TAG) == wanted:
            yield f"Studio application {name} is up to date (version {summary['ApplicationVersionId']})"
        else:
            yield from _update(kda, name, summary, role_arn, config, arn, wanted, local)
    detail = kda.describe_application(ApplicationName=name)["ApplicationDetail"]
    status = detail["ApplicationStatus"]
    yield f"status: {status}"
    if start and status == "READY":
        try:
            kda.start_application(ApplicationName=name)
            yield "start requested (Studio takes a few minutes to reach RUNNING)"
        except botocore.exceptions.ClientError as exc:
            if not _unsupported(exc, local):
                raise
            yield "skipped start: StartApplication is not implemented by this endpoint"
    if not import_note:
        return
    if local:
        yield "skipped note import: the local endpoint runs no Zeppelin (import happens only on AWS)"
        return
    yield from _import_note(kda, settings, name, note)


def _update(kda, name: str, summary: dict, role_arn: str, config: dict, arn: str,  # noqa: ANN001
            wanted: str, local: bool) -> Iterator[str]:
    update = {
        "FlinkApplicationConfigurationUpdate": {"ParallelismConfigurationUpdate": {
            "ConfigurationTypeUpdate": "CUSTOM",
            "ParallelismUpdate": config["FlinkApplicationConfiguration"]["ParallelismConfiguration"]["Parallelism"],
            "ParallelismPerKPUUpdate": 1, "AutoScalingEnabledUpdate": False}},
        "ZeppelinApplicationConfigurationUpdate": {
            "CatalogConfigurationUpdate": {"GlueDataCatalogConfigurationUpdate": {
                "DatabaseARNUpdate": config["ZeppelinApplicationConfiguration"]["CatalogConfiguration"]
                ["GlueDataCatalogConfiguration"]["DatabaseARN"]}},
            "CustomArtifactsConfigurationUpdate": config["ZeppelinApplicationConfiguration"]
            ["CustomArtifactsConfiguration"],
        },
    }
    try:
        kda.update_application(ApplicationName=name, CurrentApplicationVersionId=summary["ApplicationVersionId"],
                               ServiceExecutionRoleUpdate=role_arn, ApplicationConfigurationUpdate=update)
    except botocore.exceptions.ClientError as exc:
        if not _unsupported(exc, local):
            raise
        yield "skipped update: UpdateApplication is not implemented by this endpoint (configuration differs)"
        return
    kda.tag_resource(ResourceARN=arn, Tags=[{"Key": CONFIG_TAG, "Value": wanted}])
    yield f"updated Studio application {name}"


def _import_note(kda, settings: Settings, name: str, note: dict) -> Iterator[str]:  # noqa: ANN001
    """Zeppelin's POST /api/notebook/import, authenticated by the presigned URL's session cookie."""
    import time
    from urllib.parse import urlsplit

    import requests

    deadline = time.monotonic() + 900
    while kda.describe_application(ApplicationName=name)["ApplicationDetail"]["ApplicationStatus"] != "RUNNING":
        if time.monotonic() > deadline:
            raise WorkbenchError(f"{name} did not reach RUNNING within 15 minutes",
                                 "see the application in the console")
        time.sleep(15)
    url = kda.create_application_presigned_url(ApplicationName=name, UrlType="ZEPPELIN_UI_URL",
                                               SessionExpirationDurationInSeconds=1800)["AuthorizedUrl"]
    session = requests.Session()
    session.get(url, timeout=60).raise_for_status()  # sets the Zeppelin session cookie
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}/zeppelin"
    filled = fill_secrets(note, {"jdbc_password": settings.pg_password})
    response = session.post(f"{base}/api/notebook/import", json=filled, timeout=60)
    response.raise_for_status()
    yield f"imported note {note['name']!r} as {response.json().get('body')}"
