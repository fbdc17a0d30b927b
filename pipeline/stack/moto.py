"""Kinesis (and the AWS control plane the notebooks deploy to) served by moto in server mode."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from botocore.config import Config

from pipeline.common.aws import client
from pipeline.stack.base import Service


class MotoService(Service):
    name = "kinesis"
    stands_in_for = "Kinesis, IAM, Lambda, S3, SQS, kinesisanalyticsv2 (moto)"
    port_setting = "kinesis_port"

    def note(self) -> str:
        return "in memory: streams and records are lost on down"

    def install(self) -> None:
        """moto is a Python package of the project's environment: nothing to fetch."""

    def command(self) -> tuple[Sequence[str], Mapping[str, str], Path]:
        argv = [sys.executable, "-m", "pipeline.stack.moto_server", "-H", self.settings.host, "-p", str(self.port)]
        return argv, {}, self.settings.var_dir

    def _kinesis(self):  # noqa: ANN202 - boto3 clients have no importable type
        return client(self.settings, "kinesis", Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}))

    def ready(self) -> bool:
        self._kinesis().list_streams(Limit=1)
        return True

    def provision(self) -> None:
        """Create the stream the pipeline writes to; moto forgets it on every restart. Also narrows the
        stack's pid folder (var/run) if an older start left it open."""
        self.secure_folders()
        kinesis = self._kinesis()
        name = self.settings.stream_name
        if name not in kinesis.list_streams()["StreamNames"]:
            kinesis.create_stream(StreamName=name, ShardCount=self.settings.shard_count)
        for _ in range(50):
            if kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                return
            time.sleep(0.1)
