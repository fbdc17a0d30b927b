"""MongoDB Atlas, played by FerretDB v1 (MongoDB wire protocol) with a SQLite backend.

No MongoDB server is published in the registries this project may use, so FerretDB is built from
its Go module (``env/ferretdb``), together with a small wire proxy that drops exactly
``collation: {locale: "simple"}`` (Trino sends it on every find; FerretDB v1 refuses any collation;
"simple" is the binary comparison FerretDB does anyway). The binary is cached under the hash of its
sources, so it is rebuilt only when they change.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path

from pymongo import MongoClient

from pipeline.common.errors import WorkbenchError
from pipeline.settings import PROJECT_ROOT
from pipeline.stack.base import Service
from pipeline.stack.install import run_logged, tree_digest

SOURCE_DIR = PROJECT_ROOT / "env" / "ferretdb"


class FerretDBService(Service):
    name = "mongodb"
    stands_in_for = "MongoDB Atlas (FerretDB v1, SQLite backend)"
    port_setting = "mongo_port"

    @cached_property
    def binary(self) -> Path:
        """Named after the hash of its sources: read once, rebuilt only when they change."""
        digest = tree_digest(SOURCE_DIR, ("go.mod", "go.sum", "*.go"))
        return self.settings.cache_dir / "bin" / f"ferretdb-local-{digest}"

    @property
    def data_dir(self) -> Path:
        """The SQLite files of every database: 0700, only the stack's user may read raw logs."""
        return self.settings.var_dir / "ferretdb"

    def private_folders(self) -> list[Path]:
        return [*super().private_folders(), self.data_dir]

    def note(self) -> str:
        if self.settings.mongodb_uri is not None:
            return "MONGODB_URI is set: the pipeline uses that server, not this one"
        return f"data in {self.data_dir}"

    def check_prerequisites(self) -> None:
        if not self.binary.exists() and shutil.which("go") is None:
            raise WorkbenchError("Go is needed to build FerretDB (env/ferretdb) and 'go' is not on PATH",
                             "install Go 1.24 or newer (FerretDB v1.24 needs it) and run again")

    def install(self) -> None:
        if self.binary.exists():
            return
        print("  building FerretDB from its Go module (first time only) ...", flush=True)
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.binary.with_suffix(".tmp")
        run_logged(["go", "build", "-o", str(tmp), "."], self.settings.log_dir / "install.log",
                   "building FerretDB", "check that the Go module proxy is reachable (GOPROXY), then run again",
                   cwd=SOURCE_DIR)
        tmp.rename(self.binary)

    def provision(self) -> None:
        """Nothing to create (databases appear on first write); narrows the folders an older version left
        open (``start`` creates them private)."""
        self.secure_folders()

    def command(self) -> tuple[Sequence[str], Mapping[str, str], Path]:
        argv = [str(self.binary), f"--listen-addr={self.address}", f"--sqlite-dir={self.data_dir}", "--log-level=warn"]
        return argv, {}, self.settings.var_dir

    def ready(self) -> bool:
        client: MongoClient = MongoClient(f"mongodb://{self.address}/", serverSelectionTimeoutMS=1000,
                                          connectTimeoutMS=1000)
        try:
            return bool(client.admin.command("ping").get("ok"))
        finally:
            client.close()
