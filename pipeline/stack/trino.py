"""Trino 476 from Maven Central (server core + the mongodb and postgresql plugins) on a JDK 24+.

476 is the last release published on Maven Central as a server tarball. It runs single-node (one
process is coordinator and worker) with two catalogs: ``mongodb`` (raw logs) and ``postgresql``
(aggregates). Config files are rendered from ``env/trino/`` into ``var/trino/etc`` (0700, every file
0600: a catalog file holds the MongoDB URI, password included when a real one is set); the read-only
role's password reaches Trino only through the process environment (``${ENV:TRINO_PG_PASSWORD}``).

Access control (``access-control.properties``, ``rules.json``): file-based, read-only for everyone but
``trino_admin_user``. Any other user, the analysis's ``trino_user`` included, may only SELECT from the
``mongodb`` and ``postgresql`` catalogs (and read Trino's ``system`` catalog): no CREATE, INSERT, DELETE,
DROP, no connector procedures or table functions (``system.query`` would pass raw queries through), no
other user's queries. The admin may do everything Trino allows; the PostgreSQL role Trino connects as
stays read-only all the same. Trino here has no authentication: the user is what the client says, so
this keeps honest clients (the analysis, a notebook) from writing, it does not stop a hostile one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pipeline.common.errors import WorkbenchError
from pipeline.common.templates import render
from pipeline.settings import PROJECT_ROOT, private_dir
from pipeline.stack.base import Service
from pipeline.stack.install import java_major, maven_fetch

TEMPLATE_DIR = PROJECT_ROOT / "env" / "trino"
TEMPLATE_SUFFIXES = (".properties", ".config", ".json")
CATALOGS = ("mongodb", "postgresql")
# The postgresql connector needs the Geometry type of the geospatial plugin to start.
PLUGINS = (*CATALOGS, "geospatial")
MIN_JAVA = 24


class TrinoService(Service):
    name = "trino"
    stands_in_for = "Trino (federated SQL over MongoDB and PostgreSQL)"
    port_setting = "trino_port"

    @property
    def home(self) -> Path:
        return self.settings.cache_dir / f"trino-{self.settings.trino_version}"

    @property
    def state_dir(self) -> Path:
        return self.settings.var_dir / "trino"

    @property
    def java(self) -> Path:
        return self.settings.trino_java_home / "bin" / "java"

    def note(self) -> str:
        return "catalogs: " + ", ".join(CATALOGS)

    def check_prerequisites(self) -> None:
        major = java_major(self.settings.trino_java_home)
        if major is None or major < MIN_JAVA:
            found = "nothing" if major is None else f"Java {major}"
            raise WorkbenchError(
                f"Trino {self.settings.trino_version} needs Java {MIN_JAVA} or newer; "
                f"found {found} at {self.settings.trino_java_home}",
                "install a JDK 24+ (e.g. Temurin 25) and point WB_TRINO_JAVA_HOME at it",
            )

    def install(self) -> None:
        """Unpack Trino's lib/ and the plugins we use from the server tarball on Maven Central, once.

        The per-plugin zips of 476 are not on Maven Central, so they come out of the full server
        tarball; its repeated jars are hard links to an earlier copy (often in a plugin we skip),
        hence two streaming passes: find the link targets, then write the bytes.
        """
        done = self.home / ".complete"
        if done.exists():
            return
        version = self.settings.trino_version
        tarball = maven_fetch(f"io.trino:trino-server:{version}:tar.gz", self.settings.log_dir / "install.log")
        print(f"  unpacking Trino {version} into {self.home} ...", flush=True)
        staging = self.home.with_name(self.home.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        _extract(tarball, staging, lambda parts: parts[1] == "lib" or (parts[1] == "plugin" and parts[2] in PLUGINS))
        shutil.rmtree(self.home, ignore_errors=True)
        staging.rename(self.home)
        done.touch()

    def _values(self) -> dict[str, str]:
        s = self.settings
        node_id_file = self.state_dir / "node-id"
        if not node_id_file.exists():
            node_id_file.parent.mkdir(parents=True, exist_ok=True)
            node_id_file.write_text(str(uuid.uuid4()), encoding="utf-8")
        return {
            "HTTP_PORT": str(self.port),
            "DATA_DIR": str(self.state_dir / "data"),
            "PLUGIN_DIR": str(self.home / "plugin"),
            "CATALOG_DIR": str(self.etc_dir / "catalog"),
            "ETC_DIR": str(self.etc_dir),
            "NODE_ID": node_id_file.read_text(encoding="utf-8").strip(),
            "HEAP_SIZE": s.trino_heap,
            # Without a short server selection timeout a query waits 30 s when MongoDB is down.
            "MONGODB_URL": s.mongo_uri + ("&" if "?" in s.mongo_uri else "?") + "serverSelectionTimeoutMS=5000",
            "PG_JDBC_URL": s.jdbc_url,
            # Trino only reads the aggregates: it connects as the read-only role of the schema.
            "PG_USER": s.trino_reader_user,
            # rules.json: a JSON string holding a Java regex that matches exactly this user name
            "ADMIN_USER": json.dumps(re.escape(s.trino_admin_user)),
        }

    @property
    def etc_dir(self) -> Path:
        return self.state_dir / "etc"

    def prepare(self) -> None:
        """Render env/trino/ (*.properties, *.config, *.json) into var/trino/etc with values from the
        settings: folders 0700, files created 0600 (never readable by others, not even for a moment)."""
        if self.settings.trino_admin_user == self.settings.trino_user:
            raise WorkbenchError(
                f"the Trino admin user and the analysis user are both {self.settings.trino_user!r}: "
                "the analysis would run with every right",
                "set WB_TRINO_ADMIN_USER and WB_TRINO_USER to two different names (defaults: admin, workbench)")
        values = self._values()
        etc = self.etc_dir
        shutil.rmtree(etc, ignore_errors=True)
        for template in sorted(TEMPLATE_DIR.rglob("*")):
            if template.is_file() and template.suffix in TEMPLATE_SUFFIXES:
                target = etc / template.relative_to(TEMPLATE_DIR)
                for folder in reversed(target.relative_to(etc).parents):
                    private_dir(etc / folder)
                _write_private(target, render(template.read_text(encoding="utf-8"), values))
        (self.state_dir / "data" / "var" / "log").mkdir(parents=True, exist_ok=True)

    def command(self) -> tuple[Sequence[str], Mapping[str, str], Path]:
        etc = self.etc_dir
        jvm_flags = [line.strip() for line in (etc / "jvm.config").read_text(encoding="utf-8").splitlines()
                     if line.strip() and not line.startswith("#")]
        node_props = [f"-D{line.strip()}" for line in (etc / "node.properties").read_text(encoding="utf-8").splitlines()
                      if line.strip() and not line.startswith("#")]
        argv = [
            str(self.java), *jvm_flags, *node_props,
            f"-Dconfig={etc / 'config.properties'}",
            f"-Dlog.levels-file={etc / 'log.properties'}",
            "-cp", str(self.home / "lib" / "*"),
            "io.trino.server.TrinoServer",
        ]
        return argv, {"TRINO_PG_PASSWORD": self.settings.reader_password}, self.state_dir / "data"

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.settings.trino_url}{path}", timeout=2) as response:  # noqa: S310
            return json.load(response)

    def ready(self) -> bool:
        """Started, and it is our node answering (not another Trino that holds the port)."""
        if self._get("/v1/info").get("starting") is not False:
            return False
        node_id_file = self.state_dir / "node-id"
        return not node_id_file.exists() or self._get("/v1/status").get("nodeId") == node_id_file.read_text().strip()


def _write_private(path: Path, text: str) -> None:
    """Write a new file that only its owner may read (created 0600, whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _extract(tarball: Path, target: Path, wanted: Callable[[list[str]], bool]) -> None:
    """Extract the members of ``tarball`` (minus its top folder) that ``wanted`` selects."""
    sources: dict[str, list[Path]] = {}
    with tarfile.open(tarball, "r|gz") as archive:
        for member in archive:
            parts = member.name.split("/")
            if len(parts) >= 3 and (member.isfile() or member.islnk()) and wanted(parts):
                source = member.linkname if member.islnk() else member.name
                sources.setdefault(source, []).append(target.joinpath(*parts[1:]))
    with tarfile.open(tarball, "r|gz") as archive:
        for member in archive:
            if member.isfile() and member.name in sources:
                data = archive.extractfile(member).read()  # type: ignore[union-attr]
                for destination in sources.pop(member.name):
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    destination.write_bytes(data)
    if sources:
        raise WorkbenchError(f"{tarball} is incomplete: {len(sources)} files missing, e.g. {next(iter(sources))}",
                         f"delete {tarball} and run 'make up' again to download it anew")
