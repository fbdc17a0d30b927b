"""Apache Superset, the dashboards: SQL over Trino, served on loopback by gunicorn.

Superset pins its own pandas, numpy and SQLAlchemy 1.4, so it lives in an environment of its own,
made once from ``env/superset/requirements.lock`` (PyPI) in the cache, keyed by that file's hash, like
the workbench's. Its metadata lives in the ``superset`` database of the stack's PostgreSQL, owned by a
``superset`` role that has nothing of the workbench's database. It queries Trino as
``WB_SUPERSET_TRINO_USER``, a read-only user as every Trino user but the admin.

Secrets (the Flask secret key, the metadata role's, the admin's and the analysts' passwords) are
generated into ``var/secrets/`` (0600) and reach Superset only through its process environment.
``env/superset/workbench_setup.py`` runs inside Superset's Python: ``migrate`` before the server
starts (skipped when the metadata is current), ``provision`` at every ``stack up`` (the Trino
connection, the dashboards bundle of ``env/superset/bundle`` imported with overwrite, the ``Viewer``
role and the analysts' login).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from pipeline.common.errors import WorkbenchError
from pipeline.settings import PROJECT_ROOT, local_secret
from pipeline.stack.base import Service, tail
from pipeline.stack.postgres import PostgresService

ENV_DIR = PROJECT_ROOT / "env" / "superset"
LOCK_FILE = ENV_DIR / "requirements.lock"
BUNDLE_DIR = ENV_DIR / "bundle"
METADATA_ROLE = "superset"
METADATA_DATABASE = "superset"
ADMIN_USER = "admin"
SETUP_TIMEOUT_S = 900.0


class SupersetService(Service):
    name = "superset"
    stands_in_for = "dashboards (Apache Superset over Trino)"
    port_setting = "superset_port"

    # --- where things are ------------------------------------------------------------------------
    @property
    def venv(self) -> Path:
        key = hashlib.sha256(LOCK_FILE.read_bytes() + sys.version.encode()).hexdigest()[:16]
        return self.settings.cache_dir / "superset" / key

    @property
    def state_dir(self) -> Path:
        return self.settings.var_dir / "superset"

    def private_folders(self) -> list[Path]:
        return [*super().private_folders(), self.state_dir]

    def note(self) -> str:
        return f"dashboards at {self.settings.dashboards_url}; viewer login {self.settings.superset_viewer_user}"

    # --- secrets ---------------------------------------------------------------------------------
    def secret(self, name: str) -> str:
        return local_secret(self.settings.secrets_dir / f"superset_{name}")

    @property
    def admin_password(self) -> str:
        return self.secret("admin_password")

    @property
    def viewer_password(self) -> str:
        return self.secret("viewer_password")

    def trino_uri(self) -> str:
        s = self.settings
        return f"trino://{quote(s.superset_trino_user, safe='')}@{s.trino_host or s.host}:{s.trino_port}/postgresql"

    def _superset_env(self) -> dict[str, str]:
        s = self.settings
        metadata_uri = (f"postgresql+psycopg2://{METADATA_ROLE}:{quote(self.secret('metadata_password'), safe='')}"
                        f"@{s.pg_host}:{s.postgres_port}/{METADATA_DATABASE}")
        return {
            "SUPERSET_CONFIG_PATH": str(ENV_DIR / "superset_config.py"),
            "SUPERSET_HOME": str(self.state_dir),
            "SUPERSET_SECRET_KEY": self.secret("secret_key"),
            "SUPERSET_METADATA_URI": metadata_uri,
            "WB_DASHBOARD_RAW_SCHEMA": s.mongodb_database,
            "WB_DASHBOARD_RAW_COLLECTION": s.raw_collection,
            "WB_DASHBOARD_RAW_BUCKET": s.raw_bucket,
            "FLASK_APP": "superset.app:create_app()",
        }

    # --- install ---------------------------------------------------------------------------------
    def install(self) -> None:
        """Superset's environment, once per lock file: a venv in the cache, filled from PyPI."""
        if (self.venv / ".complete").exists():
            return
        log = self.settings.log_dir / "install.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"  installing Apache Superset {self.settings.superset_version} into {self.venv} "
              "(first time only, a few minutes) ...", flush=True)
        # Made where it stays (its scripts carry its path); .complete marks a finished one.
        steps = [[sys.executable, "-m", "venv", "--clear", str(self.venv)],
                 [str(self.venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--progress-bar", "off",
                  "-r", str(LOCK_FILE)]]
        with log.open("a", encoding="utf-8") as out:
            for argv in steps:
                out.write(f"$ {' '.join(argv)}\n")
                out.flush()
                result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
                if result.returncode != 0:
                    raise WorkbenchError(f"installing Superset failed: {' '.join(argv[:4])} ... exited "
                                         f"{result.returncode}; last lines of {log}:\n{tail(log)}",
                                         "check that PyPI is reachable, then run 'make up' again "
                                         "(or leave Superset out: WB_SUPERSET_ENABLED=false)")
        (self.venv / ".complete").touch()

    # --- setup inside Superset's Python ----------------------------------------------------------
    def _setup(self, action: str) -> dict:
        env = self.process_environment({
            **self._superset_env(),
            "WB_SUPERSET_ADMIN_USER": ADMIN_USER,
            "WB_SUPERSET_ADMIN_PASSWORD": self.admin_password,
            "WB_SUPERSET_VIEWER_USER": self.settings.superset_viewer_user,
            "WB_SUPERSET_VIEWER_PASSWORD": self.viewer_password,
            "WB_SUPERSET_TRINO_URI": self.trino_uri(),
            "WB_SUPERSET_BUNDLE": str(BUNDLE_DIR),
        })
        log = self.settings.log_dir / "superset-setup.log"
        with log.open("a", encoding="utf-8") as out:
            out.write(f"\n=== workbench_setup {action}\n")
            out.flush()
            result = subprocess.run([str(self.venv / "bin" / "python"), str(ENV_DIR / "workbench_setup.py"), action],
                                    env=env, cwd=self.state_dir, stdout=subprocess.PIPE, stderr=out, text=True,
                                    check=False, timeout=SETUP_TIMEOUT_S)
            out.write(result.stdout)
        if result.returncode != 0:
            raise WorkbenchError(f"Superset setup ({action}) failed; last lines of {log}:\n{tail(log)}",
                                 f"read {log}; a broken bundle file in {BUNDLE_DIR} is named there")
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else {}

    def prepare(self) -> None:
        """The metadata database (role, password), its schema, the admin: before the server starts."""
        PostgresService(self.settings).ensure_owned_database(METADATA_ROLE, self.secret("metadata_password"),
                                                             METADATA_DATABASE)
        done = self._setup("migrate")
        if done.get("migrated"):
            print("  superset: metadata database created/upgraded", flush=True)

    def command(self) -> tuple[Sequence[str], Mapping[str, str], Path]:
        s = self.settings
        argv = [str(self.venv / "bin" / "gunicorn"), "--bind", f"{s.host}:{self.port}",
                "--worker-class", "gthread", "--workers", "1", "--threads", str(s.superset_workers * 2),
                "--timeout", "120", "--limit-request-line", "0", "--limit-request-field_size", "0",
                "--access-logfile", "-", "superset.app:create_app()"]
        return argv, self._superset_env(), self.state_dir

    def ready(self) -> bool:
        with urllib.request.urlopen(f"http://{self.settings.host}:{self.port}/health", timeout=3) as response:
            return response.read().strip() == b"OK"

    def provision(self) -> None:
        done = self._setup("provision")
        print(f"  superset: {len(done.get('dashboards', []))} dashboards imported "
              f"({', '.join(done.get('dashboards', []))}); viewer login {self.settings.superset_viewer_user}, "
              f"password in {self.settings.secrets_dir / 'superset_viewer_password'}", flush=True)
