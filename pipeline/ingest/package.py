"""The deployment zip of the ingest Lambda: ``lambda/`` plus the runtime's wheels of pymongo.

Why it is built this way:

- The function runs on the Lambda runtime (``settings.lambda_runtime``, python3.12 on x86_64),
  not on this machine's Python 3.11, and pymongo has C extensions. So the wheels are the ones pip
  picks *for that runtime* (``--platform manylinux2014_x86_64 --python-version 3.12
  --implementation cp --only-binary=:all:``), never the ones installed here.
- The versions are the project's pins from ``requirements.lock``: what the tests ran against is
  what is deployed. ``--no-deps``: pymongo's only dependency, dnspython, is pinned and fetched
  explicitly; boto3 ships with the runtime.
- Downloads are cached under ``settings.cache_dir`` and fetched once; later builds are offline.
- The zip is reproducible: sorted entries, a fixed timestamp (1980-01-01, the zip format's
  epoch), fixed permissions, fixed compression. Two builds of the same sources are byte-identical,
  so the deploy can compare the zip's sha256 with the deployed ``CodeSha256`` and skip an upload
  that would change nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from pipeline.common.errors import WorkbenchError
from pipeline.settings import PROJECT_ROOT, Settings

LAMBDA_SOURCE_DIR = PROJECT_ROOT / "lambda"
LOCK_FILE = PROJECT_ROOT / "requirements.lock"
# What the function imports beyond the runtime (which ships boto3): pymongo and its one dependency.
BUNDLED_PACKAGES = ("pymongo", "dnspython")
PLATFORM = "manylinux2014_x86_64"
ARCHITECTURE = "x86_64"  # must match PLATFORM: the function is deployed with this architecture

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--: what Lambda needs to read (and dlopen) every file
COMPRESS_LEVEL = 9
EXCLUDED_PARTS = {"__pycache__", "tests"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


class PackageError(WorkbenchError):
    """The zip cannot be built: says what is wrong and what to do."""


@dataclass(frozen=True)
class RuntimeTarget:
    """The Python of the Lambda runtime, in the terms pip download and wheel tags use."""

    runtime: str
    python_version: str  # "3.12"

    @property
    def abi(self) -> str:
        return "cp" + self.python_version.replace(".", "")

    @classmethod
    def from_runtime(cls, runtime: str) -> RuntimeTarget:
        match = re.fullmatch(r"python(3\.\d+)", runtime)
        if not match:
            raise PackageError(f"unsupported Lambda runtime {runtime!r}",
                               "set WB_LAMBDA_RUNTIME to a Python runtime such as python3.12")
        return cls(runtime=runtime, python_version=match.group(1))


def pinned_versions(lock_file: Path = LOCK_FILE, names: tuple[str, ...] = BUNDLED_PACKAGES) -> dict[str, str]:
    """The ``name==version`` pins of ``names`` in requirements.lock (the versions tested here)."""
    wanted = {canonicalize_name(n): n for n in names}
    found: dict[str, str] = {}
    for line in lock_file.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if "==" not in requirement:
            continue
        name, version = (part.strip() for part in requirement.split("==", 1))
        key = canonicalize_name(name.split("[", 1)[0])
        if key in wanted:
            found[wanted[key]] = version.split(";", 1)[0].strip()
    missing = [n for n in names if n not in found]
    if missing:
        raise PackageError(f"{lock_file.name} pins no version of {', '.join(missing)}",
                           "run 'make lock' after adding the package to pyproject.toml")
    return found


def wheel_cache_dir(settings: Settings) -> Path:
    target = RuntimeTarget.from_runtime(settings.lambda_runtime)
    return settings.cache_dir / "lambda-wheels" / f"{target.abi}-{PLATFORM}"


def fetch_wheels(settings: Settings) -> list[Path]:
    """The runtime's wheels of every bundled package, downloaded into the cache on first use."""
    target = RuntimeTarget.from_runtime(settings.lambda_runtime)
    cache = wheel_cache_dir(settings)
    cache.mkdir(parents=True, exist_ok=True)
    wheels = []
    for name, version in sorted(pinned_versions().items()):
        wheel = _cached_wheel(cache, name, version) or _download_wheel(cache, name, version, target)
        _check_wheel_fits(wheel, target)
        wheels.append(wheel)
    return wheels


def _cached_wheel(cache: Path, name: str, version: str) -> Path | None:
    for candidate in sorted(cache.glob("*.whl")):
        wheel_name, wheel_version, _, _ = parse_wheel_filename(candidate.name)
        if wheel_name == canonicalize_name(name) and str(wheel_version) == version:
            return candidate
    return None


def _download_wheel(cache: Path, name: str, version: str, target: RuntimeTarget) -> Path:
    # Download into a private folder, then move: a concurrent build never sees half a wheel.
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as scratch:
        argv = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--no-deps",
            "--platform", PLATFORM, "--python-version", target.python_version, "--implementation", "cp",
            "--dest", scratch, f"{name}=={version}",
        ]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        downloaded = sorted(Path(scratch).glob("*.whl"))
        if result.returncode != 0 or len(downloaded) != 1:
            raise PackageError(
                f"could not download the {target.runtime} wheel of {name}=={version}:\n"
                + (result.stderr.strip() or result.stdout.strip())[-2000:],
                "check that PyPI is reachable (pip's index settings apply); later builds use the cache in "
                f"{cache}",
            )
        final = cache / downloaded[0].name
        os.replace(downloaded[0], final)
    return final


def _check_wheel_fits(wheel: Path, target: RuntimeTarget) -> None:
    """Refuse a wheel the runtime could not import (a wrong cache entry, a pip surprise)."""
    _, _, _, tags = parse_wheel_filename(wheel.name)
    fits = any(
        (tag.interpreter in (target.abi, "py3", "py" + target.python_version.replace(".", "")))
        and (tag.platform == "any" or (tag.platform.startswith("manylinux") and tag.platform.endswith(ARCHITECTURE)))
        for tag in tags
    )
    if not fits:
        raise PackageError(f"{wheel.name} is not built for {target.runtime} on {ARCHITECTURE}",
                           f"delete {wheel} and build again")


def source_files(source_dir: Path) -> list[tuple[str, Path]]:
    """Every file of ``lambda/`` as (name in the zip, path), without tests, caches or dotfiles."""
    files = []
    for path in sorted(source_dir.rglob("*")):
        relative = path.relative_to(source_dir)
        if not path.is_file() or _excluded(relative.parts):
            continue
        files.append((relative.as_posix(), path))
    if not any(name == "handler.py" for name, _ in files):
        raise PackageError(f"no handler.py in {source_dir}", "the function's entry point is handler.handler")
    return files


def _excluded(parts: tuple[str, ...]) -> bool:
    return any(p in EXCLUDED_PARTS or p.startswith(".") for p in parts) or parts[-1].endswith(EXCLUDED_SUFFIXES)


def wheel_members(wheel: Path) -> Iterator[tuple[str, bytes]]:
    """The files a wheel installs into site-packages, as (name in the zip, content)."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = info.filename
            data_dir = name.split("/", 1)[0]
            if data_dir.endswith(".data"):
                # .data/purelib and .data/platlib install into site-packages; scripts/headers do not.
                scheme, _, rest = name.split("/", 1)[1].partition("/")
                if scheme not in ("purelib", "platlib") or not rest:
                    continue
                name = rest
            if "__pycache__" in name.split("/") or name.endswith(EXCLUDED_SUFFIXES):
                continue
            yield name, archive.read(info)


def build_zip(settings: Settings, source_dir: Path = LAMBDA_SOURCE_DIR) -> Path:
    """Build ``<var_dir>/build/<function>.zip``: the handler's folder plus the runtime's wheels."""
    entries: dict[str, bytes] = {}
    for wheel in fetch_wheels(settings):
        for name, data in wheel_members(wheel):
            _add(entries, name, data, wheel.name)
    for name, path in source_files(source_dir):
        _add(entries, name, path.read_bytes(), str(source_dir))

    out_dir = settings.var_dir / "build"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{settings.function_name}.zip"
    fd, scratch = tempfile.mkstemp(dir=out_dir, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write_reproducible_zip(Path(scratch), entries)
        os.replace(scratch, target)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return target


def _add(entries: dict[str, bytes], name: str, data: bytes, origin: str) -> None:
    if name in entries:
        raise PackageError(f"{name} comes twice into the zip (again from {origin})",
                           "rename the file in lambda/ so it does not shadow a bundled package")
    entries[name] = data


def write_reproducible_zip(path: Path, entries: dict[str, bytes]) -> None:
    """Write ``entries`` so that the same entries always give the same bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name], compresslevel=COMPRESS_LEVEL)


def sha256_hex(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_sha256(path: Path) -> str:
    """The digest in Lambda's own form (base64 of the sha256), as GetFunction's CodeSha256."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode("ascii")
