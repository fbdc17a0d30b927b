"""The jar of the source paragraph's function ``log_time`` (``flink_studio/udf/``), with the record contract.

The function applies the record contract (``lambda/record_contract.json``); its jar carries the
contract's patterns and limits as resources (``contract/<name>``, UTF-8 text), so the contract is
still written once, in that file. The jar is compiled here with the JDK's ``javac`` against PyFlink's
own Flink jars, for Java 11 (Studio's runtime), and kept under ``var/build/`` by a digest of its
sources, the contract and the Flink jars: a changed contract builds a new jar, an unchanged one is
reused. The local job puts it on ``pipeline.jars``; ``flink deploy`` gives it to Studio as a UDF
artifact.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from pipeline.common.errors import WorkbenchError
from pipeline.settings import PROJECT_ROOT, Settings, record_contract
from pipeline.stack.flink import FlinkRuntime

UDF_DIR = PROJECT_ROOT / "flink_studio" / "udf"
# The contract values the function reads (each a resource of the jar).
CONTRACT_NAMES = ("timestamp_pattern", "service_pattern", "status_pattern", "latency_pattern", "latency_max_ms")
# What the sources compile against: the Table API and the internal data structures (StringData,
# TimestampData) the function takes and returns, to avoid converting every record's fields.
FLINK_JARS = ("flink-table-api-java-uber-*.jar", "flink-table-runtime-*.jar")


def contract_resources() -> dict[str, bytes]:
    """The jar's ``contract/<name>`` resources: the contract's values as the function reads them."""
    contract = record_contract()
    values = {name: str(contract[name]) for name in CONTRACT_NAMES}
    values["latency_max_ms"] = repr(float(contract["latency_max_ms"]))
    return {f"contract/{name}": value.encode("utf-8") for name, value in values.items()}


def _flink_classpath() -> list[Path]:
    import pyflink

    lib = Path(pyflink.__file__).parent / "lib"
    jars = [jar for pattern in FLINK_JARS for jar in sorted(lib.glob(pattern))]
    if len(jars) != len(FLINK_JARS):
        raise WorkbenchError(f"PyFlink's Table API jars are not in {lib}", "recreate the Python environment: make venv")
    return jars


def _javac(settings: Settings) -> str:
    java_home = FlinkRuntime(settings).java_home
    candidate = java_home / "bin" / "javac" if java_home else None
    found = str(candidate) if candidate and candidate.exists() else shutil.which("javac")
    if not found:
        raise WorkbenchError("javac not found: the Flink source's contract function (flink_studio/udf/) "
                             "is compiled here",
                             "install a JDK 11 or 17 (Debian: apt-get install openjdk-17-jdk-headless) "
                             "or set WB_FLINK_JAVA_HOME to one")
    return found


def _digest(sources: list[Path], resources: dict[str, bytes], classpath: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.relative_to(UDF_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for name, data in sorted(resources.items()):
        digest.update(name.encode() + b"\0" + data + b"\0")
    for jar in classpath:
        digest.update(jar.name.encode() + b"\0")
    return digest.hexdigest()[:16]


def udf_jar(settings: Settings) -> Path:
    """The function's jar for the current sources and contract, compiled when not built yet."""
    sources = sorted(UDF_DIR.rglob("*.java"))
    resources = contract_resources()
    classpath = _flink_classpath()
    target = settings.var_dir / "build" / f"flink-udf-{_digest(sources, resources, classpath)}.jar"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="flink-udf-") as tmp:
        classes = Path(tmp) / "classes"
        command = [_javac(settings), "--release", "11", "-encoding", "UTF-8", "-nowarn",
                   "-cp", os.pathsep.join(map(str, classpath)), "-d", str(classes), *map(str, sources)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise WorkbenchError(f"compiling flink_studio/udf/ failed:\n{done.stderr.strip()[-2000:]}",
                                 "fix the Java sources (javac's messages above)")
        partial = Path(tmp) / target.name
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: log-workbench\r\n\r\n")
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, path.relative_to(classes).as_posix())
            for name, data in resources.items():
                jar.writestr(name, data)
        shutil.move(str(partial), target)  # whole or not at all: a concurrent build writes the same bytes
    return target
