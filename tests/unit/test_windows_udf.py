"""The source paragraph's function ``log_time`` (flink_studio/udf/) against the Lambda's contract code.

The real Flink job is compared with the real handler on the edge-case corpus in
tests/integration/test_record_contract.py; here the function itself meets thousands of generated
timestamps and field texts, through a small Java probe, and must give what the Lambda gives: the
same UTC millisecond for a log, and nothing for a record the Lambda quarantines.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import zipfile

import pytest

from pipeline.common.errors import WorkbenchError
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.windows import udf
from tests.unit.test_lambda_handler import InvalidRecord, handler

PROBE = PROJECT_ROOT / "tests" / "fixtures" / "udf" / "ContractProbe.java"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
NULL = "\\N"


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """Run records (five field texts, None for NULL) through the built function; one result each."""
    var_dir = tmp_path_factory.mktemp("var")
    jar = udf.udf_jar(Settings(var_dir=var_dir))
    classes = var_dir / "probe"
    lib = udf._flink_classpath()[0].parent  # PyFlink's jars: the function runs on flink-dist's core
    classpath = os.pathsep.join([str(jar), *map(str, sorted(lib.glob("*.jar")))])
    subprocess.run(["javac", "-nowarn", "-cp", classpath, "-d", str(classes), str(PROBE)], check=True)

    def run(records: list[tuple[str | None, ...]]) -> list[int | None]:
        lines = "".join("\t".join(NULL if f is None else f for f in record) + "\n" for record in records)
        done = subprocess.run(["java", "-cp", os.pathsep.join([str(classes), classpath]), "ContractProbe"],
                              input=lines.encode("utf-8"), capture_output=True, check=True)
        return [None if out == "null" else int(out) for out in done.stdout.decode().splitlines()]

    return run


def _lambda_millis(stamp: str) -> int | None:
    try:
        moment = handler.parse_timestamp(stamp)
    except InvalidRecord:
        return None
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


def _timestamps(rng: random.Random, count: int) -> list[str]:
    """Valid forms and near misses: each part is valid most of the time, else at or beyond a limit;
    odd separators and zones; now and then one character changed, dropped or doubled."""

    def part(valid: object, *edges: object) -> object:
        return valid if rng.random() < 0.95 else rng.choice(edges)

    stamps = []
    for _ in range(count):
        year = part(rng.choice([1970, 2026, 8999, rng.randint(1970, 8999)]), 1969, 9000, 999)
        month = part(rng.randint(1, 12), 0, 13)
        day = part(rng.choice([1, 28, 29, 30, 31, rng.randint(1, 28)]), 0, 32)  # 29-31: not every month
        hour, minute, second = part(rng.randint(0, 23), 24), part(rng.randint(0, 59), 60), part(rng.randint(0, 59), 60)
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([1, 2, 3, 4, 6, 9])))
        fraction = part(rng.choice(["", "." + digits]), ".", ".1234567890")
        zone = part(rng.choice(["", "Z", "z", "+00:00", "+05:30", "-08:00", "+23:59", "-23:59"]),
                    "+24:00", "+05:60", "+0530", "+5:30", " UTC", "Zz")
        sep = part(rng.choice(["T", " "]), "t", "_")
        stamp = f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}"
        if rng.random() < 0.05:
            i = rng.randrange(len(stamp))
            stamp = stamp[:i] + rng.choice(["", stamp[i] * 2, rng.choice("0:-. Tx\u0661")]) + stamp[i + 1:]
        stamps.append(stamp)
    return stamps


def test_event_time_is_the_lambdas_for_every_timestamp_form(probe):
    stamps = _timestamps(random.Random(20261130), 4000)
    got = probe([(s, "checkout", "200", "ok", "12.5") for s in stamps])
    expected = [_lambda_millis(s) for s in stamps]
    mismatches = [(s, g, e) for s, g, e in zip(stamps, got, expected, strict=True) if g != e]
    assert not mismatches, mismatches[:10]
    assert sum(e is not None for e in expected) > 2000 and sum(e is None for e in expected) > 500


FIELD_CASES = [
    (("checkout", "200", "ok", "12.5"), True),
    (("checkout", "599", "", "0"), True),  # an empty message is a message
    (("checkout", "600", "ok", "1"), False),
    (("checkout", "099", "ok", "1"), False),
    (("checkout", "200.0", "ok", "1"), False),  # the JSON number 200.0: not an integer
    (("checkout", "200", None, "1"), False),  # message null
    (("checkout", "200", "ok", "-0.5"), False),
    (("checkout", "200", "ok", "1e15"), True),
    (("checkout", "200", "ok", "1.0000000001e15"), False),
    (("checkout", "200", "ok", "1e999"), False),  # infinity
    (("checkout", "200", "ok", "NaN"), False),
    (("checkout", "200", "ok", "12ms"), False),
    (("checkout", "200", "ok", None), False),
    (("", "200", "ok", "1"), False),
    (("   ", "200", "ok", "1"), False),
    (("7eleven", "200", "ok", "1"), False),
    (("true", "200", "ok", "1"), False),
    (("{\"a\":1}", "200", "ok", "1"), False),  # an object's text
    (("x" * 128, "200", "ok", "1"), True),
    (("x" * 129, "200", "ok", "1"), False),
    (("pay\u00e9ment \u65e5\u672c", "200", "ok", "1"), True),
    ((None, "200", "ok", "1"), False),
]


def test_the_other_fields_follow_the_contract(probe):
    """(service, status, message, latency_ms) as Flink's JSON format gives them: text, or NULL."""
    stamp = "2026-11-30T10:00:00.123Z"
    got = probe([(stamp, *fields) for fields, _ in FIELD_CASES])  # one JVM for all cases
    wrong = [(fields, result) for (fields, is_log), result in zip(FIELD_CASES, got, strict=True)
             if result != (_lambda_millis(stamp) if is_log else None)]
    assert not wrong, wrong


def test_the_jar_carries_the_contract_and_is_rebuilt_when_it_changes(tmp_path, monkeypatch):
    settings = Settings(var_dir=tmp_path)
    jar = udf.udf_jar(settings)
    with zipfile.ZipFile(jar) as archive:
        names = set(archive.namelist())
        assert "workbench/flink/LogTime.class" in names
        for name, data in udf.contract_resources().items():
            assert archive.read(name) == data
    assert udf.udf_jar(settings) == jar  # unchanged: the same file, not rebuilt
    changed = {**udf.contract_resources(), "contract/status_pattern": b"^[2][0-9]{2}\\z"}
    monkeypatch.setattr(udf, "contract_resources", lambda: changed)
    assert udf.udf_jar(settings) != jar


def test_a_missing_javac_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(udf.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    settings = Settings(var_dir=tmp_path, flink_java_home=None)
    with pytest.raises(WorkbenchError, match="javac not found") as raised:
        udf.udf_jar(settings)
    assert "openjdk-17-jdk-headless" in raised.value.fix
