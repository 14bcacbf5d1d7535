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
