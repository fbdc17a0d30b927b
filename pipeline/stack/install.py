"""Fetching and building what the stack runs, always through a package registry and cached.

Maven artifacts come through Maven itself into its local repository (``~/.m2``), Go modules through
the Go module proxy into Go's module cache; both caches live outside the checkout, so a second
``stack up`` and a fresh clone download nothing again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from pipeline.common.errors import WorkbenchError


def _maven_repo() -> Path:
    """Maven's local repository; MAVEN_REPO_LOCAL moves it (and is passed on to mvn)."""
    return Path(os.environ.get("MAVEN_REPO_LOCAL", Path.home() / ".m2" / "repository"))


def maven_artifact_path(coordinate: str) -> Path:
    """Path of ``group:artifact:version[:packaging[:classifier]]`` in Maven's local repository."""
    parts = coordinate.split(":")
    if len(parts) not in (3, 4, 5):
        raise ValueError(f"not a Maven coordinate: {coordinate}")
    group, artifact, version = parts[:3]
    packaging = parts[3] if len(parts) > 3 else "jar"
    classifier = f"-{parts[4]}" if len(parts) > 4 else ""
    return (
        _maven_repo() / group.replace(".", "/") / artifact / version
        / f"{artifact}-{version}{classifier}.{packaging}"
    )


def maven_fetch(coordinate: str, log: Path) -> Path:
    """Return the cached artifact, downloading it from Maven Central with ``mvn`` if missing."""
    path = maven_artifact_path(coordinate)
    if path.exists():
        return path
    mvn = shutil.which("mvn")
    if mvn is None:
        raise WorkbenchError(
            f"Maven is needed to download {coordinate} and 'mvn' is not on PATH",
            "install it (Debian: apt-get install maven) and run again",
        )
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"  downloading {coordinate} from Maven Central ...", flush=True)
    with log.open("ab") as out:
        # Pin the plugin version: an unpinned goal resolves "latest" through the registry every time.
        result = subprocess.run(
            [mvn, "-B", "-q", "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get",
             f"-Dartifact={coordinate}", "-Dtransitive=false", f"-Dmaven.repo.local={_maven_repo()}"],
            stdout=out, stderr=subprocess.STDOUT, check=False,
        )
    if result.returncode != 0 or not path.exists():
        raise WorkbenchError(
            f"Maven could not download {coordinate} (exit {result.returncode}); details in {log}",
            "check that Maven Central is reachable (or a mirror is set in ~/.m2/settings.xml) and run again",
        )
    return path


def tree_digest(root: Path, patterns: tuple[str, ...]) -> str:
    """A short digest of the files matching ``patterns`` under ``root``: a cache key for builds."""
    digest = hashlib.sha256()
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def java_major(java_home: Path | None) -> int | None:
    """Major version of the JDK at ``java_home`` (or the java on PATH); None if there is none."""
    java = str(java_home / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def run_logged(argv: list[str], log: Path, what: str, fix: str, **kwargs: object) -> None:
    """Run an install step with its output appended to ``log``; a failure names the log and the fix."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise WorkbenchError(f"{what} failed (exit {result.returncode}); details in {log}", fix)
