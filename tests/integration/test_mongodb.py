"""FerretDB speaks the MongoDB wire protocol the Lambda relies on."""

from __future__ import annotations

import pytest
from pymongo import MongoClient
from pymongo.errors import BulkWriteError, OperationFailure

pytestmark = pytest.mark.stack


@pytest.fixture
def collection(stack, unique_name):
    client = MongoClient(stack.mongo_uri, serverSelectionTimeoutMS=5000)
    coll = client["stacktest"][unique_name]
    yield coll
    coll.drop()
    client.close()


def test_insert_many_unordered_reports_duplicates_as_11000_and_keeps_the_rest(collection):
    collection.insert_one({"_id": "shard-0:2", "n": 2})
    docs = [{"_id": f"shard-0:{n}", "n": n} for n in range(1, 5)]

    with pytest.raises(BulkWriteError) as caught:
        collection.insert_many(docs, ordered=False)

    errors = caught.value.details["writeErrors"]
    assert [e["code"] for e in errors] == [11000]
    assert errors[0]["index"] == 1
    assert sorted(d["n"] for d in collection.find()) == [1, 2, 3, 4]


def test_simple_collation_is_accepted_and_others_are_still_refused(collection):
    """Trino sends collation {locale: 'simple'}; the wire proxy drops exactly that one."""
    collection.insert_many([{"_id": i, "service": s} for i, s in enumerate(["auth", "Auth", "payment"])])

    found = list(collection.find({"service": "auth"}, collation={"locale": "simple"}))

    assert [d["_id"] for d in found] == [0]  # binary comparison: "Auth" does not match
    with pytest.raises(OperationFailure):
        list(collection.find({"service": "auth"}, collation={"locale": "en", "strength": 2}))
    with pytest.raises(OperationFailure):
        list(collection.find({"service": "auth"}, collation={"locale": "simple", "strength": 1}))
