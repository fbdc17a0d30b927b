"""The round trip that `make demo` runs passes through every server and cleans up after itself."""

from __future__ import annotations

import subprocess
import sys

import boto3
import pytest
from pymongo import MongoClient

from pipeline.settings import PROJECT_ROOT

pytestmark = pytest.mark.stack


def test_smoke_round_trip_sees_every_record_in_every_server(stack):
    result = subprocess.run([sys.executable, "-m", "pipeline", "smoke", "--records", "60"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=600, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "read 60 records back with GetRecords" in lines[1]
    assert "stored 60 documents" in lines[2]
    assert "60 of 60 rows" in lines[3]
    joined = lines[4].split(": ", 2)[2]
    assert sum(int(part.split()[1]) for part in joined.split(", ")) == 60
    # Its stream and collection are gone again.
    streams = boto3.client("kinesis", **stack.boto3_kwargs()).list_streams()["StreamNames"]
    assert not [s for s in streams if s.startswith("smoke")]
    with MongoClient(stack.mongo_uri) as client:
        assert [c for c in client["smoke"].list_collection_names() if c != "_schema"] == []
