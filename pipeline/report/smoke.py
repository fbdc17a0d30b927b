"""A round trip through every server of the local stack (``make smoke``).

Kinesis -> (GetRecords) -> MongoDB, Kinesis -> (PyFlink job) -> PostgreSQL, and a Trino query that
joins the two stores on the Kinesis event id. Each step must see exactly the records sent, or the
round trip fails with the step that lost them. It uses its own stream, collection and table and
removes them afterwards, so the pipeline's data is never touched.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import psycopg2
import trino
from psycopg2 import sql
from pymongo import MongoClient
from pymongo.errors import BulkWriteError

from pipeline.common.aws import client
from pipeline.common.errors import WorkbenchError
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.windows.stream_copy import create_target_table

SERVICES = ("auth", "payment", "search", "checkout")
SMOKE_DATABASE = "smoke"


def _records(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    base = int(time.time()) - 600
    records = []
    for i in range(count):
        status = rng.choice([200] * 8 + [404, 503])
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i)) + f".{i % 1000:03d}Z"
        records.append({"timestamp": ts, "service": rng.choice(SERVICES), "status": status,
                        "message": f"smoke request {i}", "latency_ms": round(rng.lognormvariate(3, 0.6), 2)})
    return records


def _check(step: str, expected: int, got: int) -> None:
    if expected != got:
        raise WorkbenchError(f"smoke step '{step}' expected {expected} records and saw {got}",
                         "check 'make status' and the logs in var/log/")


def run_smoke(settings: Settings, records: int = 100) -> Iterator[str]:
    name = f"smoke{uuid.uuid4().hex[:8]}"
    sent = _records(records)
    kinesis = client(settings, "kinesis")
    mongo: MongoClient = MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000)
    collection = mongo[SMOKE_DATABASE][name]
    began = time.monotonic()
    try:
        kinesis.create_stream(StreamName=name, ShardCount=settings.shard_count)
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
        failed = kinesis.put_records(StreamName=name, Records=[
            {"Data": json.dumps(r).encode(), "PartitionKey": str(i)} for i, r in enumerate(sent)])["FailedRecordCount"]
        _check("Kinesis PutRecords", 0, failed)
        yield f"kinesis : put {len(sent)} records into stream {name} ({settings.kinesis_endpoint})"

        documents = []
        for shard in kinesis.list_shards(StreamName=name)["Shards"]:
            iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            for record in kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]:
                event_id = f"{shard['ShardId']}:{record['SequenceNumber']}"
                documents.append({"_id": event_id, **json.loads(record["Data"])})
        _check("Kinesis GetRecords", len(sent), len(documents))
        yield f"kinesis : read {len(documents)} records back with GetRecords"

        collection.insert_many(documents, ordered=False)
        try:  # a redelivered batch: every insert is a duplicate key (11000), nothing is written twice
            collection.insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            codes = {e["code"] for e in exc.details["writeErrors"]}
            _check("MongoDB duplicate redelivery", 1, len(codes & {11000}))
        _check("MongoDB insert", len(sent), collection.count_documents({}))
        yield f"mongodb : stored {len(documents)} documents in {SMOKE_DATABASE}.{name}; a redelivery wrote nothing"

        create_target_table(settings, name)
        job = subprocess.run([sys.executable, "-m", "pipeline.windows.stream_copy", "--stream", name, "--table", name,
                              "--expect", str(len(sent))], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             env={**os.environ, **settings.environment()}, timeout=400, check=False)
        if job.returncode != 0:
            raise WorkbenchError(f"the Flink job failed:\n{job.stderr[-2000:]}", f"see {settings.log_dir / 'flink'}")
        yield f"flink   : {job.stdout.strip()}"

        conn = trino.dbapi.connect(host=settings.trino_host or settings.host, port=settings.trino_port,
                                   user=settings.trino_user)
        cur = conn.cursor()
        cur.execute(f"""SELECT m.service, count(*), sum(CASE WHEN p.status >= 500 THEN 1 ELSE 0 END)
                        FROM mongodb.{SMOKE_DATABASE}.{name} m
                        JOIN postgresql.public.{name} p ON m._id = p.event_id
                        GROUP BY m.service ORDER BY m.service""")  # names are generated above, not user input
        joined = cur.fetchall()
        _check("Trino federated join", len(sent), sum(row[1] for row in joined))
        yield "trino   : joined MongoDB and PostgreSQL on the event id: " + ", ".join(
            f"{service} {count} ({errors} errors)" for service, count, errors in joined)
        yield f"smoke round trip through every server passed in {time.monotonic() - began:.1f} s"
    finally:
        kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        collection.drop()
        mongo[SMOKE_DATABASE]["_schema"].delete_many({"table": name})
        mongo.close()
        with psycopg2.connect(**settings.psycopg2_kwargs()) as pg, pg.cursor() as pg_cur:
            pg_cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
