"""The emulator's speed-ups (README "Speed") must not change an answer: each cache or index
is checked here against the slow path it replaced, or against a stale answer it could give.

    WARDEN_PYTHON -m pytest -q tests/emulator/tests
"""

from __future__ import annotations

import copy
import json
import os
import random
import time
import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import Emu

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dynamodb_ext  # noqa: E402
import speedups  # noqa: E402
from moto.dynamodb.models import DynamoDBBackend  # noqa: E402

A = "111111111111"
B = "222222222222"


def err(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return info.value.response


# ------------------------------------------------------------------ in process: against moto's own paths


def _backend(range_key: bool) -> DynamoDBBackend:
    backend = DynamoDBBackend("us-east-1", "123456789012")
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "sk", "AttributeType": "S"})
    for name in ("t", "u"):
        backend.create_table(
            name,
            schema=schema,
            throughput=None,
            attr=attrs,
            global_indexes=None,
            indexes=None,
            streams=None,
            billing_mode="PAY_PER_REQUEST",
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=None,
            warm_throughput=None,
        )
    return backend


def _dump(backend: DynamoDBBackend) -> Any:
    """Every table's items, and its partitions (an empty one included), comparable."""
    out = {}
    for name, table in backend.tables.items():
        parts = {}
        for hash_key, part in table.items.items():
            if table.range_key_attr:
                parts[repr(hash_key.value)] = sorted(json.dumps(i.to_json(), sort_keys=True) for i in part.values())
            else:
                parts[repr(hash_key.value)] = json.dumps(part.to_json(), sort_keys=True)
        out[name] = (parts, len(table))
    return out


def _random_entry(rng: random.Random, range_key: bool) -> dict[str, Any]:
    key = {"pk": {"S": f"p{rng.randrange(3)}"}}
    if range_key:
        key["sk"] = {"S": f"s{rng.randrange(3)}"}
    table = rng.choice(["t", "u"])
    cond = rng.choice(
        [None, "attribute_not_exists(pk)", "attribute_exists(pk)", "n = :one", "attribute_not_exists(nope)"]
    )
    kind = rng.choice(["Put", "Delete", "Update", "ConditionCheck"])
    op: dict[str, Any] = {"TableName": table}
    if kind == "Put":
        op["Item"] = {**key, "n": {"N": str(rng.randrange(3))}, "tags": {"SS": ["a", "b"]}}
    else:
        op["Key"] = key
    if kind == "Update":
        op["UpdateExpression"] = rng.choice(["SET n = :one", "ADD tags :tag", "REMOVE n"])
        op["ExpressionAttributeValues"] = {":one": {"N": "1"}, ":tag": {"SS": ["c"]}}
    if kind == "ConditionCheck" and cond is None:
        cond = "attribute_exists(pk)"
    if cond is not None:
        op["ConditionExpression"] = cond
        if ":one" in cond:
            op.setdefault("ExpressionAttributeValues", {})[":one"] = {"N": "1"}
    if kind != "Update" and "ExpressionAttributeValues" in op and ":one" not in (cond or ""):
        del op["ExpressionAttributeValues"]
    return {kind: op}


@pytest.mark.parametrize("range_key", [True, False])
def test_transaction_rollback_by_undo_log_leaves_what_moto_deep_copy_leaves(range_key: bool) -> None:
    """Random transactions (Put, Delete, Update, ConditionCheck, conditions that hold or not,
    the same key twice) on two backends: one through the emulator's undo log, one through
    moto's own deep-copy rollback. After every transaction both hold the same items, and
    both raised the same error (or none)."""
    rng = random.Random(14)
    fast, slow = _backend(range_key), _backend(range_key)
    moto_original = DynamoDBBackend.transact_write_items._warden_original
    cancelled = 0
    for _ in range(400):
        items = [_random_entry(rng, range_key) for _ in range(rng.randrange(1, 4))]
        outcomes = []
        for backend, call in ((fast, DynamoDBBackend.transact_write_items), (slow, moto_original)):
            try:
                call(backend, copy.deepcopy(items))
                outcomes.append(None)
            except Exception as exc:  # compared between the two paths
                outcomes.append((type(exc).__name__, str(exc)))
        assert outcomes[0] == outcomes[1], items
        assert _dump(fast) == _dump(slow), items
        cancelled += outcomes[0] is not None
    assert 50 < cancelled < 350  # both outcomes were exercised


def test_a_table_with_a_stream_keeps_moto_deep_copy() -> None:
    backend = _backend(True)
    backend.tables["t"].stream_shard = object()  # any stream: the undo log stands aside
    assert dynamodb_ext._undo_log(backend, [{"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"S": "b"}}}}]) is None


@pytest.mark.parametrize("range_key", [True, False])
def test_query_of_one_partition_answers_what_moto_query_answers(range_key: bool) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    rng = random.Random(7)
    backend = _backend(range_key)
    table = backend.tables["t"]
    for i in range(300):
        item = {"pk": {"S": f"p{rng.randrange(6)}"}, "n": {"N": str(i)}}
        if range_key:
            item["sk"] = {"S": f"s{rng.randrange(100):03d}"}
        table.put_item(item)
    original = speedups._original_query

    def both(*args: Any, **kwargs: Any) -> None:
        fast = table.query(*args, **kwargs)
        slow = original(table, *args, **kwargs)
        assert [i.to_json() for i in fast[0]] == [i.to_json() for i in slow[0]]
        assert fast[1:] == slow[1:]

    for p in range(7):
        hash_key = DynamoType({"S": f"p{p}"})
        for forward in (True, False):
            for limit in (None, 1, 5):
                both(hash_key, None, [], limit, None, forward, None)
            if range_key:
                both(hash_key, "BEGINS_WITH", [DynamoType({"S": "s0"})], None, None, forward, None)
                both(hash_key, "BETWEEN", [DynamoType({"S": "s010"}), DynamoType({"S": "s050"})], 3, None, forward, None)
                start = {"pk": {"S": f"p{p}"}, "sk": {"S": "s040"}}
                both(hash_key, None, [], 4, start, forward, None)
            else:
                both(hash_key, None, [], 2, {"pk": {"S": f"p{p}"}}, forward, None)
    # A number key on a string table matches nothing, as in moto.
    both(DynamoType({"N": "1"}), None, [], None, None, True, None)
    assert "all_items" not in table.__dict__  # the partition view does not outlive the call


def test_the_idempotency_cache_forgets_only_expired_tokens_oldest_first() -> None:
    """The token cache drops its expired prefix (it is kept in time order) rather than
    scanning every token: a token within the window must still answer from the cache, and
    an expired one must not."""
    where = ("123456789012", "us-east-1")
    dynamodb_ext.clear()
    calls = []

    def app(environ: Any, start_response: Any) -> list[bytes]:
        calls.append(environ)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"{}"]

    def send(token: str) -> None:
        body = json.dumps({"TransactItems": [], "ClientRequestToken": token}).encode()
        dynamodb_ext.transact_write_items(app, {}, lambda *a: None, body, where)

    real = dynamodb_ext.time.monotonic
    clock = [1000.0]
    dynamodb_ext.time.monotonic = lambda: clock[0]  # type: ignore[assignment]
    try:
        send("old")
        clock[0] += 400
        send("mid")
        clock[0] += 300  # "old" is 700 s old (expired), "mid" 300 s
        send("new")
        assert list(k[1] for k in dynamodb_ext._CACHE) == ["mid", "new"]
        before = len(calls)
        send("mid")  # cached: not applied again
        assert len(calls) == before
        send("old")  # expired: applied again, and now the newest entry
        assert len(calls) == before + 1
        assert list(k[1] for k in dynamodb_ext._CACHE) == ["mid", "new", "old"]
        clock[0] += 301  # "mid" expired, "new" 301 s, "old" 301 s
        send("x")
        assert list(k[1] for k in dynamodb_ext._CACHE) == ["new", "old", "x"]
    finally:
        dynamodb_ext.time.monotonic = real  # type: ignore[assignment]
        dynamodb_ext.clear()


# ------------------------------------------------------------------ DynamoDB answers: the fast paths against moto's own, in process

FAST_TABLE, MOTO_TABLE = "twin-fast-table", "twin-moto-table"  # same length; no random data holds "twin-"


class Twins:
    """Two tables of identical content in moto's Flask app in this process: every request goes
    to the first through the speed-ups, and to the second through moto's own code (each of
    ``speedups.DYNAMODB_ORIGINALS`` put back for it); the answers must be byte for byte the
    same (the second's table name read as the first's)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.moto_server.werkzeug_app import create_backend_app

        self.monkeypatch = monkeypatch
        self.client = create_backend_app("dynamodb").test_client()
        self.requests = 0

    def call(self, op: str, body: Any) -> tuple[int, bytes]:
        try:
            resp = self.client.post(
                "/",
                headers={"X-Amz-Target": f"DynamoDB_20120810.{op}", "Content-Type": "application/x-amz-json-1.0"},
                data=json.dumps(body),
            )
        except Exception as exc:  # moto's own failures (500s) must be the same too
            return -1, f"{type(exc).__name__}: {exc}".encode()
        return resp.status_code, resp.data

    def both(self, op: str, make: Any) -> Any:
        """``make(table_name)`` is the request; returns the fast answer's JSON (None if not 200)."""
        fast = self.call(op, make(FAST_TABLE))
        with self.monkeypatch.context() as m:
            for owner, name, original in speedups.DYNAMODB_ORIGINALS:
                m.setattr(owner, name, original)
            slow = self.call(op, make(MOTO_TABLE))
        self.requests += 1
        assert fast[0] == slow[0], (op, make(FAST_TABLE), fast, slow)
        assert fast[1] == slow[1].replace(MOTO_TABLE.encode(), FAST_TABLE.encode()), (op, make(FAST_TABLE))
        return json.loads(fast[1]) if fast[0] == 200 else None

    def delete(self) -> None:
        for name in (FAST_TABLE, MOTO_TABLE):
            self.call("DeleteTable", {"TableName": name})


@pytest.fixture
def twins(monkeypatch: pytest.MonkeyPatch) -> Any:
    t = Twins(monkeypatch)
    t.delete()
    for name in (FAST_TABLE, MOTO_TABLE):
        status, data = t.call(
            "CreateTable",
            {
                "TableName": name,
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                    {"AttributeName": "n", "AttributeType": "N"},
                    {"AttributeName": "g", "AttributeType": "S"},
                ],
                "LocalSecondaryIndexes": [
                    {
                        "IndexName": "by-n",
                        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "by-g",
                        "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                ],
                "BillingMode": "PAY_PER_REQUEST",
            },
        )
        assert status == 200, data
    yield t
    t.delete()


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(["a", "b", "Z", " ", "é", "€", "𝄞", "\n", '"', "\\"]) for _ in range(rng.randrange(0, 12)))


def _b64(rng: random.Random, least: int = 0) -> str:
    import base64

    return base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.randrange(least, 9)))).decode()


def _random_value(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    """One AttributeValue of any type, maps and lists nested up to three deep."""
    kind = rng.choice(["S", "N", "B", "SS", "NS", "BS", "NULL", "BOOL"] + (["M", "L"] * 2 if depth < 3 else []))
    if kind == "S":
        return {"S": _text(rng)}
    if kind == "N":
        return {"N": rng.choice(["0", "-1.5", "12345678901234567890", "1E+3", "0.000001", str(rng.randrange(-99, 99))])}
    if kind == "B":
        return {"B": _b64(rng)}
    if kind == "SS":
        return {"SS": sorted({_text(rng) + str(i) for i in range(rng.randrange(1, 4))})}
    if kind == "NS":
        return {"NS": sorted({str(rng.randrange(-50, 50)) for _ in range(rng.randrange(1, 4))})}
    if kind == "BS":
        return {"BS": sorted({_b64(rng, least=1) for _ in range(rng.randrange(1, 4))})}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if kind == "M":
        return {"M": {rng.choice(["x", "y", "é", "k k"]) + str(i): _random_value(rng, depth + 1) for i in range(rng.randrange(0, 4))}}
    return {"L": [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]}


def _random_item(rng: random.Random, pk: str, sk: str) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": str(rng.randrange(20))}}
    for name in rng.sample(["a0", "a1", "a2", "a3", "a4", "tags"], rng.randrange(0, 6)):
        item[name] = _random_value(rng)
    if rng.random() < 0.5:
        item["g"] = {"S": rng.choice(["g1", "g2"])}
    if rng.random() < 0.6:  # large items: a partition passes the 1 MB page limit
        item["big"] = {"S": rng.choice(["é", "x", "𝄞"]) * rng.choice([1_000, 40_000, 90_000, 120_000])}
    return item


def _random_query(rng: random.Random, pk: str) -> dict[str, Any]:
    values: dict[str, Any] = {":pk": {"S": pk}}
    names: dict[str, str] = {}
    key = rng.choice(["", "begins_with(sk, :b)", "sk BETWEEN :lo AND :hi", "sk > :lo", "sk <= :hi", "sk = :lo"])
    if ":b" in key:
        values[":b"] = {"S": rng.choice(["s0", "s1", "s", "t"])}
    if ":lo" in key:
        values[":lo"] = {"S": f"s{rng.randrange(30):02d}"}
    if ":hi" in key:
        values[":hi"] = {"S": f"s{rng.randrange(30):02d}"}
    body: dict[str, Any] = {"KeyConditionExpression": "pk = :pk" + (f" AND {key}" if key else "")}
    if rng.random() < 0.5:
        body["ScanIndexForward"] = rng.random() < 0.5
    if rng.random() < 0.5:
        body["Limit"] = rng.choice([1, 2, 3, 7, 50])
    if rng.random() < 0.3:
        body["FilterExpression"] = rng.choice(["n > :n", "attribute_exists(big)", "attribute_type(a0, :t) OR n = :n"])
        values[":n"] = {"N": str(rng.randrange(20))}
        if ":t" in body["FilterExpression"]:
            values[":t"] = {"S": rng.choice(["S", "M", "L"])}
        else:
            values.pop(":t", None)
        if ":n" not in body["FilterExpression"]:
            values.pop(":n")
    choice = rng.random()
    if choice < 0.25:
        body["ProjectionExpression"] = rng.choice(["pk, sk, n", "#a.x0, a1[0], sk", "big", "a2, #a"])
        if "#a" in body["ProjectionExpression"]:
            names["#a"] = "a0"
    elif choice < 0.35:
        body["Select"] = "COUNT"
    if rng.random() < 0.2:
        body["ConsistentRead"] = True
        body["ReturnConsumedCapacity"] = rng.choice(["TOTAL", "INDEXES"])
    body["ExpressionAttributeValues"] = values
    if names:
        body["ExpressionAttributeNames"] = names
    return body


def _all_pages(twins: Twins, op: str, request: dict[str, Any]) -> int:
    """Every page of a Query or Scan, each next one from the last's LastEvaluatedKey."""
    start = None
    pages = 0
    while True:
        page = twins.both(op, lambda name: {**request, "TableName": name, **({"ExclusiveStartKey": start} if start else {})})
        pages += 1
        if page is None or "LastEvaluatedKey" not in page:
            return pages
        start = page["LastEvaluatedKey"]


def test_dynamodb_answers_equal_moto_own_on_random_tables(twins: Twins) -> None:
    """Random items of every attribute type (nested maps and lists, sets, binary, unicode,
    large: a partition holds several MB), random queries (key conditions, both directions,
    limits, filters, projections, Select COUNT, consistent reads) read page by page through
    their LastEvaluatedKey, index queries, legacy KeyConditions/QueryFilter, and the other
    answers holding items (GetItem, Scan, BatchGetItem, the writes' ReturnValues), between
    random writes: the speed-ups answer byte for byte what moto's own code answers."""
    rng = random.Random(2026)
    pks = ["p0", "p1", "p2"]
    for _ in range(90):
        item = _random_item(rng, rng.choice(pks), f"s{rng.randrange(30):02d}")
        twins.both("PutItem", lambda name: {"TableName": name, "Item": item, "ReturnValues": "ALL_OLD"})
    size_limited = 0
    for _ in range(140):
        pk = rng.choice(pks + ["absent"])
        query = _random_query(rng, pk)
        pages = _all_pages(twins, "Query", query)
        size_limited += pages > 1 and "Limit" not in query
        action = rng.random()
        key = {"pk": {"S": rng.choice(pks)}, "sk": {"S": f"s{rng.randrange(30):02d}"}}
        if action < 0.2:
            item = _random_item(rng, key["pk"]["S"], key["sk"]["S"])
            twins.both("PutItem", lambda name: {"TableName": name, "Item": item, "ReturnValues": "ALL_OLD"})
        elif action < 0.4:
            values = {":v": _random_value(rng), ":one": {"N": "1"}, ":s": {"SS": ["zz"]}}
            update = rng.choice(["SET a1 = :v", "ADD n :one", "ADD tags :s", "REMOVE big", "SET a0 = :v REMOVE a2"])
            used = {k: v for k, v in values.items() if k in update}
            ret = rng.choice(["ALL_NEW", "ALL_OLD", "UPDATED_NEW", "UPDATED_OLD", "NONE"])
            twins.both(
                "UpdateItem",
                lambda name: {"TableName": name, "Key": key, "UpdateExpression": update, "ExpressionAttributeValues": used, "ReturnValues": ret},
            )
        elif action < 0.5:
            twins.both("DeleteItem", lambda name: {"TableName": name, "Key": key, "ReturnValues": "ALL_OLD"})
        elif action < 0.65:
            proj = rng.choice([{}, {"ProjectionExpression": "sk, a0, tags"}])
            twins.both("GetItem", lambda name: {"TableName": name, "Key": key, **proj})
        elif action < 0.7:
            keys = list({p: {"pk": {"S": p}, "sk": {"S": f"s{rng.randrange(30):02d}"}} for p in pks}.values())
            twins.both("BatchGetItem", lambda name: {"RequestItems": {name: {"Keys": keys}}})
        elif action < 0.8:
            scan: dict[str, Any] = {"Limit": rng.choice([3, 20, 100])}
            if rng.random() < 0.5:
                scan["FilterExpression"] = "n < :n"
                scan["ExpressionAttributeValues"] = {":n": {"N": "10"}}
            _all_pages(twins, "Scan", scan)
        elif action < 0.9:
            index = rng.choice(
                [
                    {
                        "IndexName": "by-n",
                        "KeyConditionExpression": "pk = :pk AND n > :n",
                        "ExpressionAttributeValues": {":pk": {"S": pk}, ":n": {"N": "5"}},
                    },
                    {"IndexName": "by-g", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "g1"}}},
                ]
            )
            _all_pages(twins, "Query", {**index, "Limit": rng.choice([2, 100])})
        else:
            legacy: dict[str, Any] = {
                "KeyConditions": {
                    "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": pk}]},
                    "sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "s1"}]},
                },
                "Limit": 4,
            }
            if rng.random() < 0.5:
                legacy["QueryFilter"] = {"n": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "8"}]}}
            _all_pages(twins, "Query", legacy)
    assert size_limited >= 10  # the 1 MB page limit, not Limit, ended pages
    _all_pages(twins, "Scan", {})  # and the tables end the same
    assert twins.requests > 500


def test_the_1_mb_page_limit_falls_where_moto_puts_it_to_the_byte(twins: Twins) -> None:
    """Items of every attribute type (unicode names and values, sets, binary, nested) padded
    so that a page's items total exactly 1,000,000 bytes as moto counts them (all on the
    page), then one byte more (the last one starts the next page): both directions, the
    same answers as moto's own, and the boundary where moto puts it."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = dynamodb_backends["123456789012"]["us-east-1"].tables[FAST_TABLE]
    rich = {
        "é€": {"M": {"𝄞 k": {"SS": ["€a", "𝄞", ""]}, "n": {"NS": ["-1.5", "1E+3"]}, "b": {"BS": ["AAEC", "/w=="]}}},
        "l": {"L": [{"N": "0.000001"}, {"BOOL": False}, {"NULL": True}, {"B": "AAECAw=="}, {"L": [{"S": "ü"}]}]},
    }

    def put(sk: str, size: int) -> None:
        item = {"pk": {"S": "edge"}, "sk": {"S": sk}, **rich, "big": {"S": ""}}
        twins.both("PutItem", lambda name: {"TableName": name, "Item": item})
        stored = table.get_item(DynamoType({"S": "edge"}), DynamoType({"S": sk}))
        item["big"] = {"S": "x" * (size - stored.size())}
        twins.both("PutItem", lambda name: {"TableName": name, "Item": item})
        assert table.get_item(DynamoType({"S": "edge"}), DynamoType({"S": sk})).size() == size

    for extra, on_first_page in ((0, 3), (1, 2)):
        put("a", 333_333)
        put("b", 333_333)
        put("c", 333_334 + extra)
        put("d", 1_000)
        for forward in (True, False):
            query = {
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": "edge"}},
                "ScanIndexForward": forward,
            }
            first = twins.both("Query", lambda name: {**query, "TableName": name})
            if forward:
                assert first["Count"] == on_first_page and "LastEvaluatedKey" in first
            assert _all_pages(twins, "Query", query) == 2


def test_a_query_answer_is_not_the_stored_items(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast Query hands moto's handler the stored items themselves (no deep copy): the
    answer the handler builds must still be its own. Later UpdateItems (in place: into a
    nested map, a list, a set) and a PutItem leave an earlier answer as it was, and a
    projected query leaves the stored items as they were."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.responses import DynamoHandler

    backend = _backend(True)
    table = backend.tables["t"]
    for i in range(5):
        table.put_item(
            {
                "pk": {"S": "p"},
                "sk": {"S": f"s{i}"},
                "m": {"M": {"nest": {"L": [{"S": "x"}, {"M": {"deep": {"N": "1"}}}]}}},
                "tags": {"SS": ["a", "b"]},
                "bin": {"B": "AAEC"},
            }
        )
    handler = DynamoHandler()
    handler.current_account, handler.region = "123456789012", "us-east-1"
    monkeypatch.setattr(DynamoHandler, "dynamodb_backend", property(lambda self: backend))

    def query(**extra: Any) -> Any:
        handler.body = {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}, **extra}
        return handler.query().result

    def stored() -> list[str]:
        return [json.dumps(i.to_json(), sort_keys=True) for i in table.items[DynamoType({"S": "p"})].values()]

    before = stored()
    projected = query(ProjectionExpression="m.nest[1].deep, tags, sk")
    assert stored() == before  # the projection made new items
    projected_frozen = copy.deepcopy(projected)
    answer = query()
    frozen = copy.deepcopy(answer)
    assert answer["Count"] == 5 and answer["Items"][0]["m"]["M"]["nest"]["L"][1]["M"]["deep"] == {"N": "1"}
    for update in ("SET m.nest[1].deep = :n", "SET m.nest[0] = :s", "ADD tags :t", "REMOVE bin", "SET m.extra = :s"):
        values = {k: v for k, v in {":n": {"N": "2"}, ":s": {"S": "changed"}, ":t": {"SS": ["c"]}}.items() if k in update}
        backend.update_item("t", {"pk": {"S": "p"}, "sk": {"S": "s0"}}, update, {}, values)
    backend.put_item("t", {"pk": {"S": "p"}, "sk": {"S": "s1"}, "other": {"S": "y"}})
    assert answer == frozen
    assert projected == projected_frozen
    assert stored() != before  # the writes did land
    again = query()
    assert again["Items"][0]["m"]["M"]["nest"]["L"] == [{"S": "changed"}, {"M": {"deep": {"N": "2"}}}]
    assert sorted(again["Items"][0]["tags"]["SS"]) == ["a", "b", "c"]


def test_attribute_value_json_writes_what_moto_serializer_writes_or_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain values give moto's JSON; any other form (several keys, a lower-case or unknown
    type key, a value of another type, an empty map key, None) is refused and left to
    moto's serializer, which the response then goes through: the same bytes either way, for
    an item (a map of AttributeValues) and for lists of them."""
    from moto.core.serialize import JSONSerializer, XFormedAttributePicker
    from moto.core.utils import get_service_model
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import dynamo_to_dict

    def serialize(operation: str, result: Any, fast: bool) -> Any:
        model = get_service_model("dynamodb").operation_model(operation)
        with monkeypatch.context() as m:
            if not fast:
                for owner, name, original in speedups.DYNAMODB_ORIGINALS:
                    m.setattr(owner, name, original)
            return JSONSerializer(operation_model=model, value_picker=XFormedAttributePicker()).serialize(result)["body"]

    odd: list[Any] = [
        {"S": "a", "N": "1"},
        {"s": "a"},
        {"X": "a"},
        {"S": 5},
        {"N": 1.5},
        {"B": "not bytes"},
        {"BOOL": 1},
        {"NULL": None},
        {"SS": ("a",)},
        {"BS": ["str"]},
        {"M": {"": {"S": "a"}}},
        {"M": {"k": None}},
        {"L": [None, {"S": "a"}]},
        {},
        {"L": [{"M": {"k": {"s": "lower"}}}]},
        None,
    ]
    for value in odd:
        with pytest.raises(speedups.NotPlain):
            speedups.attribute_value_json(value, lambda b: b)
    rng = random.Random(3)
    for _ in range(400):
        item = {f"a{i}": dynamo_to_dict(DynamoType(_random_value(rng))) for i in range(rng.randrange(0, 5))}
        if rng.random() < 0.3:
            item["odd"] = rng.choice(odd)
        if rng.random() < 0.1:
            item[""] = {"S": "x"}
        assert serialize("GetItem", {"Item": item}, True) == serialize("GetItem", {"Item": item}, False), item
        page = {"Items": [item, item], "Count": 2, "LastEvaluatedKey": item}
        assert serialize("Query", page, True) == serialize("Query", page, False), item



def test_plain_dynamo_to_dict_makes_what_moto_makes() -> None:
    """Random DynamoTypes (every type, nested), the item dicts moto keeps (LimitedSizeDict),
    binary values (base64 text or bytes), datetimes and model objects: the same plain dicts
    as moto's ``dynamo_to_dict``, and new ones (a change to the source changes no result)."""
    from datetime import datetime, timezone

    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.utilities import dynamo_to_dict

    rng = random.Random(5)
    for _ in range(300):
        item = Item(DynamoType({"S": "p"}), None, {f"a{i}": _random_value(rng) for i in range(rng.randrange(0, 6))})
        answer = {"Items": [item.attrs], "Count": 1, "Key": {"pk": item.hash_key}, "At": datetime.now(timezone.utc), "Obj": item}
        fast = speedups.plain_dynamo_to_dict(answer)
        assert fast == dynamo_to_dict(answer)
        assert type(fast["Items"][0]) is dict
        frozen = copy.deepcopy(fast)
        for value in item.attrs.values():  # change every container of the source in place
            if value.type in ("M", "L") and value.value:
                key = next(iter(value.value)) if value.type == "M" else 0
                value.value[key] = DynamoType({"S": "changed"})
            elif value.type in ("SS", "NS", "BS"):
                value.value.append(value.value[0])
        assert fast == frozen
    raw = DynamoType({"B": b"\x00\x01"})
    assert speedups.plain_dynamo_to_dict(raw) == dynamo_to_dict(raw) == {"B": b"\x00\x01"}



def test_item_size_is_moto_item_size() -> None:
    """Random items of every attribute type, nested, unicode, binary (moto counts the base64
    text), and items holding what moto's own updates can leave (raw dicts inside a map, a
    boolean in a string): ``item_size`` is ``Item.size()``, or raises what it raises."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    rng = random.Random(11)
    for _ in range(500):
        item = Item(DynamoType({"S": "p"}), None, {_text(rng) + "k": _random_value(rng) for _ in range(rng.randrange(0, 8))})
        assert speedups.item_size(item) == item.size()
    odd = Item(DynamoType({"S": "p"}), None, {"m": {"M": {"a": {"S": "é"}}}, "s": {"S": "x"}})
    odd.attrs["m"].value["raw"] = {"N": "12"}  # not a DynamoType: moto's DynamoType(v) reads it
    odd.attrs["s"].value = True
    assert speedups.item_size(odd) == odd.size() == len("m") + 1 + 2 + 3 + 2 + len("s") + 1
    broken = Item(DynamoType({"S": "p"}), None, {"l": {"L": []}})
    broken.attrs["l"].value.append("not a DynamoType")
    with pytest.raises(AttributeError):
        broken.size()
    with pytest.raises(AttributeError):
        speedups.item_size(broken)



# ------------------------------------------------------------------ through the emulator


def _query(ddb: Any, pk: str) -> list[str]:
    out = ddb.query(
        TableName="ledger",
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": pk}, ":p": {"S": "USER#"}},
    )
    return [i["sk"]["S"] for i in out["Items"]]


@pytest.mark.parametrize("fast_transactions", [False, True])
def test_a_cancelled_transaction_leaves_every_item_as_it_was(emu: Emu, fast_transactions: bool) -> None:
    emu.ok("/_emulator/config", {"fast_transactions": fast_transactions})
    ddb = emu.ledger_table(A)
    ddb.put_item(TableName="ledger", Item={"pk": {"S": "D#1"}, "sk": {"S": "USER#a"}, "v": {"N": "1"}})
    ddb.put_item(TableName="ledger", Item={"pk": {"S": "D#1"}, "sk": {"S": "USER#b"}, "v": {"N": "1"}})
    cancelled = err(
        ddb.transact_write_items,
        TransactItems=[
            {"Put": {"TableName": "ledger", "Item": {"pk": {"S": "D#1"}, "sk": {"S": "USER#a"}, "v": {"N": "2"}}}},
            {"Put": {"TableName": "ledger", "Item": {"pk": {"S": "D#2"}, "sk": {"S": "USER#c"}}}},
            {"Delete": {"TableName": "ledger", "Key": {"pk": {"S": "D#1"}, "sk": {"S": "USER#b"}}}},
            {
                "Update": {
                    "TableName": "ledger",
                    "Key": {"pk": {"S": "D#3"}, "sk": {"S": "USER#d"}},
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"N": "9"}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": "ledger",
                    "Key": {"pk": {"S": "D#1"}, "sk": {"S": "USER#zz"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ],
    )
    assert cancelled["Error"]["Code"] == "TransactionCanceledException"
    assert _query(ddb, "D#1") == ["USER#a", "USER#b"]
    assert _query(ddb, "D#2") == [] and _query(ddb, "D#3") == []
    item = ddb.get_item(TableName="ledger", Key={"pk": {"S": "D#1"}, "sk": {"S": "USER#a"}})["Item"]
    assert item["v"] == {"N": "1"}
    assert ddb.scan(TableName="ledger")["Count"] == 2
    # The same transaction, its condition now true, applies every write.
    ddb.put_item(TableName="ledger", Item={"pk": {"S": "D#1"}, "sk": {"S": "USER#zz"}})
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "ledger", "Item": {"pk": {"S": "D#1"}, "sk": {"S": "USER#a"}, "v": {"N": "2"}}}},
            {"Delete": {"TableName": "ledger", "Key": {"pk": {"S": "D#1"}, "sk": {"S": "USER#b"}}}},
        ]
    )
    assert _query(ddb, "D#1") == ["USER#a", "USER#zz"]


def test_query_sees_writes_and_deletes_and_keeps_accounts_apart(emu: Emu) -> None:
    a, b = emu.ledger_table(A), emu.ledger_table(B)
    for name in ("USER#c", "USER#a", "USER#b"):
        a.put_item(TableName="ledger", Item={"pk": {"S": "D#1"}, "sk": {"S": name}})
    a.put_item(TableName="ledger", Item={"pk": {"S": "D#2"}, "sk": {"S": "USER#x"}})
    b.put_item(TableName="ledger", Item={"pk": {"S": "D#1"}, "sk": {"S": "USER#other"}})
    assert _query(a, "D#1") == ["USER#a", "USER#b", "USER#c"]
    assert _query(b, "D#1") == ["USER#other"]
    a.delete_item(TableName="ledger", Key={"pk": {"S": "D#1"}, "sk": {"S": "USER#b"}})
    assert _query(a, "D#1") == ["USER#a", "USER#c"]
    a.put_item(TableName="ledger", Item={"pk": {"S": "D#1"}, "sk": {"S": "USER#b"}})
    assert _query(a, "D#1") == ["USER#a", "USER#b", "USER#c"]
    page = a.query(
        TableName="ledger",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "D#1"}},
        Limit=2,
        ScanIndexForward=False,
    )
    assert [i["sk"]["S"] for i in page["Items"]] == ["USER#c", "USER#b"]
    rest = a.query(
        TableName="ledger",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "D#1"}},
        ScanIndexForward=False,
        ExclusiveStartKey=page["LastEvaluatedKey"],
    )
    assert [i["sk"]["S"] for i in rest["Items"]] == ["USER#a"]
    assert _query(a, "D#9") == []


def test_method_names_are_kept_per_class_and_a_method_added_later_is_found() -> None:
    import moto.core.responses as responses

    class First:
        def one(self) -> None: ...

    class Second:
        def two(self) -> None: ...

    names = responses.method_names_from_class(First)
    assert "one" in names and "two" not in names
    assert "two" in responses.method_names_from_class(Second)
    assert "one" not in responses.method_names_from_class(Second)
    First.late = lambda self: None  # type: ignore[attr-defined]
    assert "late" in responses.method_names_from_class(First)
    assert responses.method_names_from_class(First) is names  # kept, not recomputed per call
    assert list(names) == ["late", "one"]


# ------------------------------------------------------------------ SageMaker: the state's indexes


def _domain_in(emu: Emu, account: str, region: str = "us-east-1") -> tuple[Any, str]:
    sm = emu.client("sagemaker", account=account, region=region)
    d = sm.create_domain(
        DomainName=f"d{time.monotonic_ns()}",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{account}:role/studio"},
        SubnetIds=["subnet-0a1b2c3d4e5f60001"],
        VpcId="vpc-0a1b2c3d4e5f60001",
    )["DomainId"]
    return sm, d


def _status(sm: Any, d: str, name: str) -> str | None:
    try:
        return sm.describe_user_profile(DomainId=d, UserProfileName=name)["Status"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ResourceNotFound"
        return None


def _wait(probe: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if probe():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_profile_quota_counts_follow_creates_and_deletes_per_domain_and_account(emu: Emu) -> None:
    """The per-domain profile count (an index kept as profiles are stored and removed) must
    follow deletion, creation again, and stay apart between domains and accounts."""
    import config

    emu.ok("/_emulator/config", {"profile_quota": 2})
    try:
        _quota_of_two(emu)
    finally:  # /_emulator/reset keeps settings
        emu.ok("/_emulator/config", {"profile_quota": config.DEFAULT_PROFILE_QUOTA})


def _quota_of_two(emu: Emu) -> None:
    sm_a, da = _domain_in(emu, A)
    sm_b, db = _domain_in(emu, B)
    _, da2 = _domain_in(emu, A)
    for sm, d in ((sm_a, da), (sm_b, db), (sm_a, da2)):
        sm.create_user_profile(DomainId=d, UserProfileName="alice")
        sm.create_user_profile(DomainId=d, UserProfileName="bob")
    refused = err(sm_a.create_user_profile, DomainId=da, UserProfileName="carol")
    assert refused["Error"]["Code"] == "ResourceLimitExceeded"
    assert "current utilization of 2 UserProfiles" in refused["Error"]["Message"]
    # While alice is Deleting she still counts; once gone she does not.
    _wait(lambda: _status(sm_a, da, "alice") == "InService")
    sm_a.delete_user_profile(DomainId=da, UserProfileName="alice")
    assert _status(sm_a, da, "alice") == "Deleting"
    assert err(sm_a.create_user_profile, DomainId=da, UserProfileName="carol")["Error"]["Code"] == "ResourceLimitExceeded"
    _wait(lambda: _status(sm_a, da, "alice") is None)
    sm_a.create_user_profile(DomainId=da, UserProfileName="carol")
    # Deleted, then created again under the same name: a new profile, counted once.
    assert err(sm_a.create_user_profile, DomainId=da, UserProfileName="alice")["Error"]["Code"] == "ResourceLimitExceeded"
    _wait(lambda: _status(sm_a, da, "carol") == "InService")
    sm_a.delete_user_profile(DomainId=da, UserProfileName="carol")
    _wait(lambda: _status(sm_a, da, "carol") is None)
    sm_a.create_user_profile(DomainId=da, UserProfileName="alice")
    assert _status(sm_a, da, "alice") == "Pending"
    # The other domain of account A and account B's domain were never touched.
    for sm, d in ((sm_b, db), (sm_a, da2)):
        assert err(sm.create_user_profile, DomainId=d, UserProfileName="x")["Error"]["Code"] == "ResourceLimitExceeded"
        assert sorted(p["UserProfileName"] for p in sm.list_user_profiles(DomainIdEquals=d)["UserProfiles"]) == ["alice", "bob"]


def test_statuses_advance_for_every_profile_even_those_set_aside(emu: Emu) -> None:
    """A sweep looks only at objects in a transitional status: each one must still reach its
    next status (creation, update, deletion), a terminal status set by the control endpoint
    must stay, and a domain can be deleted once its last profile is gone."""
    sm, d = _domain_in(emu, A)
    names = [f"u{i}" for i in range(6)]
    for name in names:
        sm.create_user_profile(DomainId=d, UserProfileName=name)
    _wait(lambda: all(_status(sm, d, n) == "InService" for n in names))
    sm.update_user_profile(DomainId=d, UserProfileName="u0", UserSettings={"ExecutionRole": f"arn:aws:iam::{A}:role/x"})
    sm.delete_user_profile(DomainId=d, UserProfileName="u1")
    emu.ok("/_emulator/sagemaker/profile-status", {"DomainId": d, "UserProfileName": "u2", "Status": "Failed", "Account": A})
    assert _status(sm, d, "u0") == "Updating"
    _wait(lambda: _status(sm, d, "u0") == "InService" and _status(sm, d, "u1") is None)
    time.sleep(0.1)
    assert _status(sm, d, "u2") == "Failed"
    listed = {p["UserProfileName"]: p["Status"] for p in sm.list_user_profiles(DomainIdEquals=d)["UserProfiles"]}
    assert listed == {"u0": "InService", "u2": "Failed", "u3": "InService", "u4": "InService", "u5": "InService"}
    assert err(sm.delete_domain, DomainId=d)["Error"]["Code"] == "ResourceInUse"
    emu.ok("/_emulator/sagemaker/profile-status", {"DomainId": d, "UserProfileName": "u2", "Status": "InService", "Account": A})
    for name in ("u0", "u2", "u3", "u4", "u5"):
        sm.delete_user_profile(DomainId=d, UserProfileName=name)
    _wait(lambda: not sm.list_user_profiles(DomainIdEquals=d)["UserProfiles"])
    sm.delete_domain(DomainId=d)


def test_the_state_dicts_refuse_mutators_that_would_bypass_their_indexes() -> None:
    import sagemaker_ext

    state = sagemaker_ext.StudioState()
    for call in (lambda: state.profiles.pop("x"), lambda: state.profiles.update({}), lambda: state.apps.clear()):
        with pytest.raises(TypeError):
            call()


# ------------------------------------------------------------------ Identity Store ListUsers against moto's own


def _identity_backend() -> Any:
    import config
    import identitystore_ext  # noqa: F401  (the emulator's store rules, as in the server)
    from moto.identitystore.models import IdentityStoreBackend

    return IdentityStoreBackend("us-east-1", config.SETTINGS.identity_center_account), config.SETTINGS.identity_stores[0]


def _outcome(call: Any, **kwargs: Any) -> Any:
    try:
        return "ok", call(**kwargs)
    except Exception as exc:  # the same failure, of the same type and text
        return "error", type(exc).__name__, str(exc)


def test_list_users_pages_are_moto_pages_and_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.utilities.paginator import Paginator

    backend, store_id = _identity_backend()
    original = speedups.IDENTITYSTORE_ORIGINALS[0][2]
    rng = random.Random(14)

    def both(**kwargs: Any) -> Any:
        fast = _outcome(lambda **kw: speedups.list_users(backend, **kw), identity_store_id=store_id, **kwargs)
        slow = _outcome(lambda **kw: original(backend, **kw), identity_store_id=store_id, **kwargs)
        assert fast == slow, kwargs
        return fast

    def create(j: int) -> str:
        name = {"GivenName": f"g{j}", "FamilyName": "F", "MiddleName": rng.choice(["M", None])}
        user_id, _ = backend.create_user(
            store_id, f"user-{j}", name, f"U {j}", "", "", [{"Value": f"u{j}@example.com"}], [], [], "", "", "", "", ""
        )
        if rng.random() < 0.3:  # a user without a name (moto lists Name only when there is one)
            store = backend._IdentityStoreBackend__get_identity_store(store_id)
            store.users[user_id] = store.users[user_id]._replace(Name=None)
        return user_id

    # An empty store: a first page, and a token (of a user that is gone) that cannot be found.
    assert both(filters=None)[1] == ([], None)
    ids = [create(j) for j in range(120)]
    stale = both(filters=None, max_results=1)[1][1]
    assert stale is not None
    store = backend._IdentityStoreBackend__get_identity_store(store_id)
    saved = dict(store.users)
    store.users.clear()
    assert both(filters=None, next_token=stale)[0] == "error"
    store.users.update(saved)

    pages = 0
    for _ in range(30):
        # The store changes between walks: users deleted, renamed (kept in place), added.
        for user_id in rng.sample(ids, 3):
            if user_id in store.users:
                del store.users[user_id]
        for user_id in rng.sample(ids, 3):
            if user_id in store.users:
                store.users[user_id] = store.users[user_id]._replace(DisplayName=f"renamed {rng.random()}")
        for _ in range(rng.randrange(4)):
            ids.append(create(len(ids)))
        limit = rng.choice([None, 0, 1, 2, 3, 7, 50, 100])
        seen: list[str] = []
        token = None
        while True:
            kind, *rest = both(filters=None, max_results=limit, next_token=token)
            assert kind == "ok", rest
            page, token = rest[0]
            seen += [user["UserId"] for user in page]
            pages += 1
            if token is None:
                break
            if rng.random() < 0.1:  # the next page's first user deleted: a token not found
                gone = Paginator()._token_decoder.decode(token)["uniqueAttributes"]
                kept = dict(store.users)
                del store.users[gone]
                assert both(filters=None, max_results=limit, next_token=token)[0] == "error"
                store.users.clear()
                store.users.update(kept)  # back, in the same order
        assert seen == list(store.users)
    assert pages > 60

    # Tokens made for other parameters, or not tokens at all; filters are moto's path.
    assert both(filters=None, next_token="not a token")[0] == "error"
    filtered = [{"AttributePath": "UserName", "AttributeValue": "user-5"}]
    first = both(filters=None, max_results=2)[1][1]
    assert both(filters=filtered, next_token=first)[0] == "error"
    assert both(filters=filtered)[0] == "ok"
    forged = Paginator()._token_encoder.encode(
        {"parameterChecksum": Paginator(param_values_to_check={"identity_store_id": store_id, "filters": None})._param_checksum}
    )
    assert both(filters=None, next_token=forged)[0] == "error"
    store.users.clear()
    assert both(filters=None, next_token=forged)[0] == "error"
