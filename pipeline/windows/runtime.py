"""The local Flink runtime: a PyFlink mini-cluster with the connector jars, configured from settings.

Two facts of the local stand-ins shape the JVM environment: moto speaks no CBOR (the Kinesis
connector's AWS SDK must be told, and it is relocated, so its property name is too), and the
mini-cluster shares this 2-core machine with the servers (small heap, small memory pools).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pipeline.settings import Settings
from pipeline.stack.flink import FlinkRuntime
from pipeline.windows.udf import udf_jar

if TYPE_CHECKING:
    from pyflink.table import TableEnvironment

_SHADED_CBOR_PROPERTY = "-Dorg.apache.flink.kinesis.shaded.com.amazonaws.sdk.disableCbor=true"


def prepare_process_environment(settings: Settings) -> None:
    """Set what the gateway JVM inherits; must run before the first TableEnvironment."""
    runtime = FlinkRuntime(settings)
    if runtime.java_home:
        os.environ["JAVA_HOME"] = str(runtime.java_home)
    os.environ["AWS_CBOR_DISABLE"] = "true"
    os.environ["JVM_ARGS"] = f"-Xmx{settings.flink_heap} {_SHADED_CBOR_PROPERTY}"
    log_dir = settings.log_dir / "flink"
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FLINK_LOG_DIR"] = str(log_dir)
    # The source's contract function (flink_studio/udf/) must be on the JVM's own class path: with
    # checkpointing on, the job graph's validation compiles the generated code against the system
    # class loader, which neither pipeline.jars nor CREATE FUNCTION ... USING JAR reach (Flink 1.20:
    # "Cannot determine simple type name"). PyFlink's gateway adds HADOOP_CLASSPATH to its class path.
    os.environ["HADOOP_CLASSPATH"] = str(udf_jar(settings))
    if settings.is_local:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        os.environ.setdefault("AWS_REGION", settings.region)


def create_table_env(settings: Settings, job_name: str, parallelism: int | None = None,
                     bounded: bool = False) -> TableEnvironment:
    """A streaming TableEnvironment on a local mini-cluster with the connector jars.

    The idle timeout lets a live job's windows close when a shard carries no traffic. It costs
    records when a subtask merely stalls (start-up, a slow GetRecords): the others' watermark runs
    ahead and its records arrive late. A bounded job ends with a drain that closes every window
    anyway, so it never needs the timeout and keeps every record.
    """
    prepare_process_environment(settings)
    from pyflink.table import EnvironmentSettings, TableEnvironment

    runtime = FlinkRuntime(settings)
    missing = [jar for jar in runtime.jars() if not jar.exists()]
    if missing:
        raise FileNotFoundError(f"Flink connector jars missing ({', '.join(p.name for p in missing)}): run 'make up'")
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = t_env.get_config()
    config.set("pipeline.jars", ";".join(jar.as_uri() for jar in runtime.jars()))
    config.set("pipeline.name", job_name)
    config.set("parallelism.default", str(parallelism or settings.shard_count))
    # Window times and arrival times are UTC, whatever the machine's zone (CAST of a TIMESTAMP_LTZ).
    config.set("table.local-time-zone", "UTC")
    # The INSERTs share the view `logs` (01_source_log_input.sql); sharing its computed columns
    # across them needs common sub-plans found by digest, off by default.
    config.set("table.optimizer.reuse-optimize-block-with-digest-enabled", "true")
    # Chained operators hand rows over without a copy (SQL operators do not keep the rows they get).
    config.set("pipeline.object-reuse", "true")
    idle_ms = 0 if bounded else round(settings.flink_source_idle_timeout_s * 1000)
    config.set("table.exec.source.idle-timeout", f"{idle_ms} ms")
    # The REST API's metrics are cached for 10 s by default: the bounded job's drain detection and
    # the benchmark's read times poll them every half second (pipeline/windows/job.py's POLL_S).
    config.set("metrics.fetcher.update-interval", "500")
    # Fault tolerance: a sink that cannot write (PostgreSQL restarted) fails the job after the JDBC
    # sink's own retries; the job then restarts from its last checkpoint (read positions, open
    # windows), again and again with backoff until the database is back. Rows already written are
    # written again by key (upserts), so nothing is doubled and no window is missed.
    config.set("execution.checkpointing.interval", f"{round(settings.flink_checkpoint_interval_s * 1000)} ms")
    checkpoints = settings.var_dir / "flink" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    config.set("state.checkpoints.dir", checkpoints.as_uri())
    config.set("restart-strategy.type", "exponential-delay")
    config.set("restart-strategy.exponential-delay.initial-backoff", "1 s")
    config.set("restart-strategy.exponential-delay.max-backoff", f"{round(settings.flink_restart_max_backoff_s)} s")
    config.set("taskmanager.memory.managed.size", "64m")
    config.set("taskmanager.memory.network.min", "32m")
    config.set("taskmanager.memory.network.max", "32m")
    return t_env
