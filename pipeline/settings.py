"""One typed settings object for every part of the workbench.

Every endpoint, name, port and credential is defined here once. Values come, in order of
precedence, from keyword arguments, environment variables (prefix ``WB_``, e.g.
``WB_POSTGRES_PORT=5433``), an untracked ``.env`` file in the working directory, and the defaults
below. Two profiles exist: ``local`` (the default: the servers of ``python -m pipeline stack``) and
``aws`` (the real services; endpoints come from the AWS credential chain and Secrets Manager).

Nothing secret has a default: the local PostgreSQL password is generated on the first
``stack up`` and kept in ``var/secrets/`` (untracked), unless ``WB_POSTGRES_PASSWORD`` is set.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.common.errors import WorkbenchError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def record_contract() -> dict[str, Any]:
    """What makes a Kinesis record a log (``lambda/record_contract.json``): the Lambda enforces it,
    the Flink source paragraph mirrors it; its tunable limits are settings (defaults from the file)."""
    return json.loads((PROJECT_ROOT / "lambda" / "record_contract.json").read_text(encoding="utf-8"))


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "log-workbench"


class Settings(BaseSettings):
    """Settings shared by the stack, the pipeline steps, the notebooks and the tests."""

    model_config = SettingsConfigDict(
        env_prefix="WB_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    profile: Literal["local", "aws"] = "local"

    # --- where things live -------------------------------------------------------------------
    var_dir: Path = Field(default=PROJECT_ROOT / "var", description="logs, pids, data of the local stack")
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="downloads and builds shared by every checkout (Trino, jars, FerretDB)",
    )

    # --- the local stack ---------------------------------------------------------------------
    host: str = "127.0.0.1"
    kinesis_port: int = Field(default=4566, ge=1, le=65535)
    mongo_port: int = Field(default=27017, ge=1, le=65535)
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    trino_port: int = Field(default=8080, ge=1, le=65535)
    startup_timeout_s: float = Field(default=120.0, gt=0)

    trino_version: str = "476"
    trino_java_home: Path = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
    trino_heap: str = "2G"
    flink_java_home: Path | None = Field(
        default=None, description="JDK 11/17 for PyFlink; default: JAVA_HOME or the java on PATH"
    )
    flink_heap: str = "768m"
    postgres_bin_dir: Path = Path("/usr/lib/postgresql/15/bin")

    # --- AWS (and its local stand-in) --------------------------------------------------------
    region: str = "us-east-1"
    stream_name: str = "log-stream"
    shard_count: int = Field(default=2, ge=1)
    aws_endpoint_url: str | None = Field(
        default=None, description="set for the local profile; None on AWS (boto3 picks the real endpoint)"
    )

    # --- MongoDB (raw logs) ------------------------------------------------------------------
    mongodb_uri: SecretStr | None = Field(
        default=None,
        validation_alias="MONGODB_URI",
        description="a real MongoDB/Atlas URI; default: the local FerretDB",
    )
    mongodb_database: str = "logs"
    raw_collection: str = "raw_logs"
    raw_bucket: Literal["hour", "none"] = Field(
        default="hour", description="hour: raw logs in <raw_collection>_<YYYYMMDDHH> (UTC), so a time-range "
        "question reads only its hours on FerretDB; none: one collection (fine on MongoDB/Atlas)")
    quarantine_collection: str = "quarantine"

    # --- PostgreSQL (aggregates) -------------------------------------------------------------
    postgres_host: str | None = Field(default=None, description="default: the local stack's host")
    postgres_database: str = "analytics"
    postgres_user: str = "workbench"
    postgres_password: SecretStr | None = None

    # --- Trino -------------------------------------------------------------------------------
    trino_host: str | None = None
    trino_user: str = "workbench"
    trino_admin_user: str = Field(
        default="admin", description="the one Trino user that may write or change anything (access control in "
        "env/trino/rules.json); everyone else, trino_user included, may only SELECT. Nothing in the analysis uses it")

    # --- Lambda and its Kinesis trigger (event source mapping), local and on AWS --------------
    # The local trigger (python -m pipeline lambda run) and the AWS mapping (lambda deploy) read
    # the same values, so both behave alike.
    function_name: str = "log-ingest"
    lambda_runtime: str = "python3.12"
    batch_size: int = Field(default=100, ge=1, le=10_000)
    max_batching_window_s: int = Field(default=0, ge=0, le=300)
    starting_position: Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"] = "TRIM_HORIZON"
    # -1 (AWS's default): a batch the store could not take is retried, with backoff, until the store is
    # back; records the handler cannot store as logs are quarantined at once, so nothing waits on them.
    max_retry_attempts: int = Field(default=-1, ge=-1, le=10_000, description="-1: retry until the record expires")
    max_record_age_s: int = Field(default=-1, ge=-1, le=604_800, description="-1: no limit")
    bisect_batch_on_error: bool = True
    report_batch_item_failures: bool = True
    failure_queue_name: str = "log-ingest-failures"
    mongodb_secret_name: str = Field(default="log-workbench/mongodb-uri",
                                     description="Secrets Manager secret holding the MongoDB URI (profile aws)")

    # --- the record contract's limits, read by the Lambda and the Flink source alike ------------
    message_max_chars: int = Field(
        default=record_contract()["defaults"]["message_max_chars"], ge=1,
        description="a longer message is stored cut to this many characters, flagged message_truncated")
    clock_skew_tolerance_s: int = Field(
        default=record_contract()["defaults"]["clock_skew_tolerance_s"], ge=0, le=99 * 3600,
        description="a record stamped this long or longer after its arrival in the stream counts at arrival "
                    "+ this, flagged clock_skew")

    # --- template mining -------------------------------------------------------------------------
    mining_settle_s: int = Field(
        default=30, ge=0, le=7 * 24 * 3600,
        description="the template miner mines a minute once it is this long (plus watermark_bound_s) in the "
                    "past: logs stored later than that are not mined, as the windows do not count late logs")

    # --- alerts ------------------------------------------------------------------------------------
    alerts_topic_name: str = Field(default="workbench-alerts", description="the SNS topic incidents are published to")
    alerts_queue_name: str | None = Field(
        default="workbench-alerts-inbox",
        description="an SQS queue subscribed to the topic (what 'alerts tail' and the tests read); none: no queue")
    alerts_interval_s: float = Field(default=10.0, gt=0, description="the alert watcher evaluates this often")
    alerts_lookback_min: int = Field(default=180, ge=30, description="the minutes of windows each evaluation reads: "
                                     "an incident's baseline comes from them")
    alerts_quiet_min: int = Field(default=2, ge=1, description="an incident is resolved after this many closed "
                                  "minutes without it")
    alerts_window_settle_s: int = Field(
        default=5, ge=0, le=3600, description="the watcher judges a minute's windows this long after the "
        "watermark passed it (the window job's sink flush)")

    # --- dashboards (Apache Superset over Trino) --------------------------------------------------
    superset_enabled: bool = Field(
        default=True, description="run Apache Superset (the dashboards) with the local stack; false: leave it out")
    superset_version: str = Field(default="6.1.0", description="apache-superset from PyPI, in its own environment")
    superset_port: int = Field(default=8088, ge=1, le=65535)
    superset_url: str | None = Field(
        default=None, description="where users reach Superset (links in alerts); default: the local stack's")
    superset_trino_user: str = Field(
        default="dashboards", description="the Trino user the dashboards query as (read-only, like every user "
                                          "but trino_admin_user)")
    superset_viewer_user: str = Field(default="analyst", description="the analysts' login: may look, not edit")
    superset_workers: int = Field(default=2, ge=1, le=16, description="gunicorn worker threads serving Superset")

    # --- Flink jobs ------------------------------------------------------------------------------
    watermark_bound_s: int = Field(default=5, ge=0, le=99 * 3600 + 3599,
                                   description="how late (s) a record may be and still count")
    flink_parallelism: int | None = Field(default=None, ge=1, le=64, description="default: one per shard")
    flink_initpos: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON"
    flink_source_idle_timeout_s: float = Field(
        default=5.0, ge=0,
        description="a live job's source subtask without records this long stops holding the watermark back "
                    "(0: never); --bounded jobs never mark a subtask idle, so a slow shard loses nothing")
    flink_jdbc_flush_rows: int = Field(default=2000, ge=1, description="JDBC sink batch size (rows)")
    flink_bounded_timeout_s: float = Field(default=1800.0, gt=0, description="--bounded gives up after this")
    flink_checkpoint_interval_s: float = Field(
        default=10.0, ge=1.0, description="a job checkpoints its read positions and open windows this often; "
                                          "after a failure (PostgreSQL gone, for one) it restarts from the last one")
    flink_restart_max_backoff_s: float = Field(
        default=30.0, ge=1.0, description="a failing job is restarted without limit, waiting 1 s, 2 s, ... up to this")
    trino_reader_user: str = Field(default="trino_reader", description="read-only PostgreSQL role for Trino")
    trino_reader_password: SecretStr | None = Field(default=None, description="default: generated in var/secrets")
    # Managed Flink Studio (flink note / flink deploy).
    studio_app_name: str = "log-workbench-studio"
    studio_runtime: str = "ZEPPELIN-FLINK-3_0"  # Zeppelin 0.10 + Flink 1.15
    studio_role_arn: str | None = Field(default=None, description="service role; default: created by deploy")
    studio_glue_database: str = "log_workbench"
    studio_jdbc_url: str | None = Field(default=None, description="JDBC URL Studio reaches (RDS); default: jdbc_url")
    studio_subnet_ids: list[str] = Field(default_factory=list, description="VPC subnets reaching RDS")
    studio_security_group_ids: list[str] = Field(default_factory=list)
    studio_artifact_bucket: str | None = Field(
        default=None, description="S3 bucket of the note's function jar (flink_studio/udf/); "
                                  "default: <studio_app_name>-artifacts-<account>, created by deploy")

    # --- the log generator -----------------------------------------------------------------------
    generator_rate: float = Field(default=100.0, gt=0, description="events/s of a live generator run")
    generator_concurrency: int = Field(
        default=1, ge=1, le=32,
        description="PutRecords calls in flight; 1 against moto (concurrent calls race in its put_record and "
                    "lose records), a few (4-8) on AWS, where each call mostly waits on the network")
    generator_max_attempts: int = Field(
        default=8, ge=1, le=100, description="PutRecords attempts per record (with backoff) before giving up")

    @field_validator("var_dir", "cache_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    # ------------------------------------------------------------------------------------------
    # Derived values: computed from the fields above, never written a second time.
    # ------------------------------------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        return self.profile == "local"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    @property
    def secrets_dir(self) -> Path:
        return self.var_dir / "secrets"

    @property
    def kinesis_endpoint(self) -> str | None:
        if self.aws_endpoint_url:
            return self.aws_endpoint_url
        return f"http://{self.host}:{self.kinesis_port}" if self.is_local else None

    @property
    def mongo_uri(self) -> str:
        if self.mongodb_uri is not None:
            return self.mongodb_uri.get_secret_value()
        if not self.is_local:
            raise RuntimeError("profile aws needs MONGODB_URI (or the Secrets Manager secret) to be set")
        return f"mongodb://{self.host}:{self.mongo_port}/"

    @property
    def pg_host(self) -> str:
        return self.postgres_host or self.host

    @cached_property
    def pg_password(self) -> str:
        """The PostgreSQL password: from the environment/.env, else the local generated one."""
        if self.postgres_password is not None:
            return self.postgres_password.get_secret_value()
        if not self.is_local:
            raise RuntimeError("profile aws needs WB_POSTGRES_PASSWORD (or the Secrets Manager secret)")
        return local_secret(self.secrets_dir / "postgres_password", variable="WB_POSTGRES_PASSWORD")

    @cached_property
    def reader_password(self) -> str:
        """The read-only role's password (Trino's PostgreSQL login): WB_TRINO_READER_PASSWORD, else a
        generated local secret."""
        if self.trino_reader_password is not None:
            return self.trino_reader_password.get_secret_value()
        if not self.is_local:
            raise RuntimeError("profile aws needs WB_TRINO_READER_PASSWORD for the read-only role")
        return local_secret(self.secrets_dir / "trino_reader_password", variable="WB_TRINO_READER_PASSWORD")

    @property
    def sqlalchemy_url(self) -> str:
        return (
            f"postgresql+psycopg2://{self.postgres_user}:{self.pg_password}"
            f"@{self.pg_host}:{self.postgres_port}/{self.postgres_database}"
        )

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.pg_host}:{self.postgres_port}/{self.postgres_database}"

    def psycopg2_kwargs(self) -> dict[str, object]:
        return {
            "host": self.pg_host,
            "port": self.postgres_port,
            "dbname": self.postgres_database,
            "user": self.postgres_user,
            "password": self.pg_password,
            "connect_timeout": 5,
        }

    def environment(self) -> dict[str, str]:
        """These settings as the environment variables that rebuild them in another process.

        A job process started from a notebook gets the notebook's settings, overrides included, not
        whatever its own environment and ``.env`` would give. Secrets are passed as values: the
        environment of a process is readable only by its user.
        """
        env: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            key = alias or f"WB_{name.upper()}"
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, bool):
                env[key] = "true" if value else "false"
            elif isinstance(value, list):
                env[key] = json.dumps(value)
            else:
                env[key] = str(value)
        return env

    @property
    def trino_url(self) -> str:
        return f"http://{self.trino_host or self.host}:{self.trino_port}"

    @property
    def dashboards_url(self) -> str:
        """Where users open Superset: WB_SUPERSET_URL, else the local stack's address."""
        return (self.superset_url or f"http://{self.host}:{self.superset_port}").rstrip("/")

    def boto3_kwargs(self) -> dict[str, object]:
        """Arguments for ``boto3.client(...)``: the local endpoint and dummy keys, or AWS's chain."""
        kwargs: dict[str, object] = {"region_name": self.region}
        if self.kinesis_endpoint:
            kwargs["endpoint_url"] = self.kinesis_endpoint
            # moto accepts any key; give boto3 some so it never looks for real ones.
            kwargs["aws_access_key_id"] = os.environ.get("AWS_ACCESS_KEY_ID", "local")
            kwargs["aws_secret_access_key"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "local")
        return kwargs


# A generated secret is secrets.token_urlsafe(24): 32 characters; anything shorter or with blanks is damaged.
_MIN_SECRET_LENGTH = 16


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make it 0700, only its owner may list or enter it;
    an existing folder with a wider mode is narrowed."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)
    return path


def local_secret(path: Path, *, variable: str = "") -> str:
    """Read a generated local secret, creating it (mode 600, in a 0700 folder) on first use.

    The file appears complete or not at all (written to a temporary file, then linked into place),
    so a crash never leaves an empty secret behind. A file that is empty or damaged anyway (edited,
    truncated) is an error naming the fix, never an empty password. ``variable`` is the setting
    that would replace the file (e.g. ``WB_POSTGRES_PASSWORD``).
    """
    private_dir(path.parent)
    if not path.exists():
        value = secrets.token_urlsafe(24)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)  # fails if another process created it first: then theirs is read below
            return value
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return _read_secret(path, variable)


def _read_secret(path: Path, variable: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        value, damage = "", "is not text"
    else:
        damage = ("is empty" if not value else
                  "holds more than one word" if any(c.isspace() for c in value) else
                  "holds control characters" if not value.isprintable() else
                  f"is shorter than {_MIN_SECRET_LENGTH} characters" if len(value) < _MIN_SECRET_LENGTH else "")
    if damage:
        instead = f", or set {variable} instead" if variable else ""
        raise WorkbenchError(
            f"the generated secret {path} {damage} (damaged, e.g. by a crash while it was written)",
            f"delete {path} and run 'make up' to generate a new one (after 'make down' if the stack is "
            f"running: its servers keep the old one){instead}")
    return value


def get_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
