"""Managed Flink (Studio), played by PyFlink 1.20 on a local mini-cluster.

Flink has no server at rest here: each job is its own process (``python -m pipeline flink run``),
with the connector jars below on ``pipeline.jars``. What the stack provides is the runtime: a JDK
and the jars, fetched from Maven Central once.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.common.errors import WorkbenchError
from pipeline.settings import Settings
from pipeline.stack.base import ServiceStatus
from pipeline.stack.install import java_major, maven_artifact_path, maven_fetch

# flink-sql-connector-kinesis (4.3.0-1.19, 5.0.0-1.20) is not served by the Maven registry reachable
# here; flink-connector-kinesis 4.3.0-1.19 is, bundles the same Studio-compatible 'kinesis' SQL
# source (AWS SDK relocated) and runs on Flink 1.20, but needs commons-logging and joda-time beside it.
CONNECTOR_JARS = (
    "org.apache.flink:flink-connector-kinesis:4.3.0-1.19",
    "commons-logging:commons-logging:1.2",
    "joda-time:joda-time:2.12.7",
    "org.apache.flink:flink-connector-jdbc:3.3.0-1.20",
    "org.postgresql:postgresql:42.7.8",
)


class FlinkRuntime:
    name = "flink"
    stands_in_for = "Managed Flink Studio (PyFlink 1.20 mini-cluster)"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def java_home(self) -> Path | None:
        if self.settings.flink_java_home:
            return self.settings.flink_java_home
        return Path(os.environ["JAVA_HOME"]) if os.environ.get("JAVA_HOME") else None

    def check_prerequisites(self) -> None:
        major = java_major(self.java_home)
        if major is None or major not in (11, 17):
            found = "no java" if major is None else f"Java {major}"
            raise WorkbenchError(f"PyFlink 1.20 needs Java 11 or 17; found {found}",
                             "install OpenJDK 17 (Debian: apt-get install openjdk-17-jdk-headless) "
                             "or set WB_FLINK_JAVA_HOME to one")

    def install(self) -> None:
        log = self.settings.log_dir / "install.log"
        for coordinate in CONNECTOR_JARS:
            maven_fetch(coordinate, log)

    def jars(self) -> list[Path]:
        return [maven_artifact_path(c) for c in CONNECTOR_JARS]

    def status(self) -> ServiceStatus:
        missing = [p.name for p in self.jars() if not p.exists()]
        if missing:
            return ServiceStatus(self.name, self.stands_in_for, "-", "down", f"missing jars: {', '.join(missing)}")
        return ServiceStatus(self.name, self.stands_in_for, "in-process", "up", "jobs run on demand, one process each")
