"""DynamoDB transactions as AWS runs them, which moto 5.2.5 does not.

* Idempotency: a TransactWriteItems call with a ``ClientRequestToken`` is idempotent for
  10 minutes: repeating it with the same token and the same parameters succeeds without
  applying the writes again; the same token with different parameters fails with
  ``IdempotentParameterMismatchException``; the same token while the first call is still
  running fails with ``TransactionInProgressException``. moto applies every call.
* Conflicts (developer guide, "Transaction conflict handling"): while a transaction is in
  progress its items are *pending*. A PutItem, UpdateItem or DeleteItem on a pending item
  fails with ``TransactionConflictException``; a TransactWriteItems that includes a
  pending item is cancelled (``TransactionCanceledException``) with the reason
  ``TransactionConflict`` for that item and ``None`` for the others. moto runs each
  transaction atomically under the emulator's request lock, so no conflict can ever occur;
  to make them happen deterministically a transaction can be *held open*
  (``/_emulator/config {"transaction_hold_ms": N}``: its items stay pending for N ms, the
  request lock released, before it is applied) and any item can be marked pending for a
  while (``POST /_emulator/dynamodb/pending-item``).
* Throttling inside a transaction: a throttle fault on ``dynamodb:TransactWriteItems`` is
  answered as AWS answers insufficient capacity inside a transaction,
  ``TransactionCanceledException`` with the reason ``ThrottlingError`` (API reference,
  TransactWriteItems), not with a request-level ThrottlingException.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from typing import Any, Callable, Iterable

from config import LOCK

WINDOW_SECONDS = 600.0

# Where an item or token lives: (account, region). Tables, tokens and pending items are
# per account and region, as in AWS.
Where = tuple[str, str]

# (where, token) -> (parameters digest, time, status line, headers, body)
_CACHE: dict[tuple[Where, str], tuple[str, float, str, list[tuple[str, str]], bytes]] = {}


# (where, table, key) -> monotonic time until which the item is pending.
_PENDING: dict[tuple[Where, str, str], float] = {}
# (where, token) of transactions in progress (held open).
_IN_PROGRESS: set[tuple[Where, str]] = set()
HOLD = {"ms": 0}


def clear() -> None:
    _CACHE.clear()
    _PENDING.clear()


def _error(start_response: Callable[..., Any], code: str, message: str, **fields: Any) -> list[bytes]:
    payload = json.dumps(
        {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message, "Message": message, **fields}
    ).encode()
    start_response(
        "400 Bad Request",
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(payload))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ],
    )
    return [payload]


def _table_key(where: Where, table_name: Any, attributes: Any) -> tuple[Where, str, str] | None:
    """The identity of the item ``attributes`` (a full item or a key) names, or None when
    the table is unknown (moto answers that) or the key is incomplete."""
    if not isinstance(table_name, str) or not isinstance(attributes, dict):
        return None
    from moto.dynamodb.models import dynamodb_backends

    try:
        table = dynamodb_backends[where[0]][where[1]].get_table(table_name)
    except Exception:
        return None
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    if not all(n in attributes for n in names):
        return None
    key = json.dumps({n: attributes[n] for n in names}, sort_keys=True)
    return (where, table.name, key)


def _is_pending(key: tuple[Where, str, str] | None) -> bool:
    if key is None:
        return False
    until = _PENDING.get(key)
    if until is None:
        return False
    if time.monotonic() >= until:
        del _PENDING[key]
        return False
    return True


def mark_pending(where: Where, table_name: str, key: dict[str, Any], seconds: float) -> None:
    """Control endpoint: the item is part of a pending transaction for ``seconds``."""
    with LOCK:
        ident = _table_key(where, table_name, key)
        if ident is None:
            raise KeyError(f"no table {table_name} in account {where[0]}, region {where[1]}, or the key lacks a key attribute")
        _PENDING[ident] = time.monotonic() + seconds


_SINGLE_WRITES = {"PutItem": "Item", "UpdateItem": "Key", "DeleteItem": "Key"}


def single_write_conflict(operation: str, body: bytes, where: Where, start_response: Callable[..., Any]) -> list[bytes] | None:
    """PutItem/UpdateItem/DeleteItem on an item in a pending transaction: the
    TransactionConflictException response; None otherwise. Called under the request lock."""
    member = _SINGLE_WRITES.get(operation)
    if member is None or not _PENDING:
        return None
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return None
    if not isinstance(params, dict):
        return None
    if _is_pending(_table_key(where, params.get("TableName"), params.get(member))):
        return _error(start_response, "TransactionConflictException", "Transaction is ongoing for the item")
    return None


def _transaction_keys(where: Where, params: dict[str, Any]) -> list[tuple[Where, str, str] | None]:
    keys = []
    for entry in params.get("TransactItems") or []:
        kind, op = next(iter(entry.items()), (None, None)) if isinstance(entry, dict) else (None, None)
        if not isinstance(op, dict):
            keys.append(None)
            continue
        keys.append(_table_key(where, op.get("TableName"), op.get("Item") if kind == "Put" else op.get("Key")))
    return keys


def _cancelled(start_response: Callable[..., Any], reasons: list[dict[str, str]]) -> list[bytes]:
    codes = ", ".join(r["Code"] for r in reasons)
    return _error(
        start_response,
        "TransactionCanceledException",
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        CancellationReasons=reasons,
    )


def throttled_transaction(body: bytes, start_response: Callable[..., Any]) -> list[bytes]:
    """A throttle fault inside a transaction: cancelled, every item's reason ThrottlingError."""
    try:
        count = len(json.loads(body or b"{}").get("TransactItems") or [])
    except (ValueError, AttributeError):
        count = 1
    reason = {"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity of your table or index."}
    return _cancelled(start_response, [dict(reason) for _ in range(max(count, 1))])


def transact_write_items(
    app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    body: bytes,
    where: Where,
) -> Iterable[bytes]:
    """Called WITHOUT the request lock: takes it for the checks and for moto's apply, and
    releases it while a held transaction keeps its items pending."""
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        params = None
    if not isinstance(params, dict):
        with LOCK:
            return list(app(environ, start_response))
    token = params.pop("ClientRequestToken", None)
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    with LOCK:
        now = time.monotonic()
        if token:
            # Oldest first (entries are added in time order, see _apply): drop the expired
            # prefix, not a scan of every token of the last 10 minutes per transaction.
            while _CACHE:
                oldest, entry = next(iter(_CACHE.items()))
                if now - entry[1] <= WINDOW_SECONDS:
                    break
                del _CACHE[oldest]
            if (where, token) in _IN_PROGRESS:
                return _error(
                    start_response,
                    "TransactionInProgressException",
                    "The transaction with the given request token is already in progress.",
                )
            cached = _CACHE.get((where, token))
            if cached is not None:
                if cached[0] != digest:
                    return _error(
                        start_response,
                        "IdempotentParameterMismatchException",
                        "Request parameters do not match the parameters of the previous request "
                        "with the same ClientRequestToken",
                    )
                _, _, status, headers, payload = cached
                start_response(status, headers)
                return [payload]
        keys = _transaction_keys(where, params)
        if any(_is_pending(k) for k in keys):
            return _cancelled(
                start_response,
                [
                    {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                    if _is_pending(k)
                    else {"Code": "None"}
                    for k in keys
                ],
            )
        hold = HOLD["ms"] / 1000.0
        if hold <= 0:
            return _apply(app, environ, start_response, where, token, digest)
        held = [k for k in keys if k is not None]
        until = now + hold + 60.0  # released below; the margin only bounds a crashed request
        for k in held:
            _PENDING[k] = until
        if token:
            _IN_PROGRESS.add((where, token))
    try:
        time.sleep(hold)
    finally:
        with LOCK:
            for k in held:
                if _PENDING.get(k) == until:
                    del _PENDING[k]
            if token:
                _IN_PROGRESS.discard((where, token))
    with LOCK:
        return _apply(app, environ, start_response, where, token, digest)


def _apply(
    app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    where: Where,
    token: str | None,
    digest: str,
) -> list[bytes]:
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"] = status
        captured["headers"] = list(headers)
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    payload = b"".join(app(environ, capture))
    if token and str(captured.get("status", "")).startswith("200"):
        _CACHE.pop((where, token), None)  # a new entry goes last: _CACHE stays in time order
        _CACHE[(where, token)] = (digest, time.monotonic(), captured["status"], captured["headers"], payload)
    return [payload]


# --------------------------------------------------------------------------------------
# Rollback by an undo log instead of copies of whole tables.
#
# moto 5.2.5's DynamoDBBackend.transact_write_items takes its rollback backup with
# copy.deepcopy(table) once per transaction item, so every transaction costs a deep copy of
# the whole table: time and memory grow with the table, and a sweep that writes one
# transaction per user is quadratic (measured: 1,700 creates in 11 min and an 11 GB emulator
# at 10,000 users). An earlier opt-in (``fast_transactions``) made the copy shallow, still
# one copy of every item dict per transaction item.
#
# Now moto's "backup" of a table is the table itself (its rollback then puts the same object
# back), and before moto runs, the item each transaction entry names is remembered: the
# Item object it had, or its absence (and whether its partition existed), with a deep copy
# of that one Item for an Update (moto's update_item changes Items in place; put replaces
# the Item object, delete pops it, ConditionCheck writes nothing). When moto's call ends in
# an exception (every path on which moto restores its backup, and the checks before any
# write), the remembered items are put back, newest first. A transaction entry can only
# write the item its own key names (moto writes nothing else: put_item, delete_item and
# update_item at that key), so this restores exactly what the deep copy did. Tables with a
# stream keep moto's deep copy (the copy also takes back the stream records a cancelled
# transaction added). ``fast_transactions`` is still accepted and changes nothing now.

FAST_TRANSACTIONS = {"enabled": False}


class _TableItself:
    """Stands in for the copy module inside moto.dynamodb.models during one transaction:
    a table's backup is the table itself."""

    def deepcopy(self, obj: Any, memo: Any = None) -> Any:
        import copy

        from moto.dynamodb.models.table import Table

        if isinstance(obj, Table):
            return obj
        return copy.deepcopy(obj, memo)

    def __getattr__(self, name: str) -> Any:
        import copy

        return getattr(copy, name)


# (table, hash key, range key or None, partition existed, Item before or None)
_Undo = tuple[Any, Any, Any, bool, Any]


def _undo_log(backend: Any, transact_items: Any) -> list[_Undo] | None:
    """What each entry's item was before the transaction; None when that cannot be told
    (moto's deep copy is used then)."""
    import copy

    from moto.dynamodb.models.dynamo_type import DynamoType

    log: list[_Undo] = []
    seen: set[tuple[int, Any, Any]] = set()
    for entry in transact_items or []:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue  # moto refuses it before writing anything for it
        op_type, op = next(iter(entry.items()))
        if not isinstance(op, dict):
            return None
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue  # moto's answer: no table, nothing written
        if table.stream_shard is not None:
            return None
        attrs = op.get("Item") if op_type == "Put" else op.get("Key")
        if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
            continue  # moto fails this entry before writing
        try:
            hash_key = DynamoType(attrs[table.hash_key_attr])
            hash(hash_key)
            range_key = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in attrs:
                    continue
                range_key = DynamoType(attrs[table.range_key_attr])
                hash(range_key)
        except Exception:
            return None
        ident = (id(table), hash_key, range_key)
        if ident in seen:
            continue  # the first record holds the state before the transaction
        seen.add(ident)
        partition = table.items.get(hash_key)
        if range_key is None:
            had, before = partition is not None, partition
        else:
            had = partition is not None
            before = partition.get(range_key) if had else None
        if before is not None and op_type not in ("Put", "Delete", "ConditionCheck"):
            before = copy.deepcopy(before)
        log.append((table, hash_key, range_key, had, before))
    return log


def _undo(log: list[_Undo]) -> None:
    for table, hash_key, range_key, had, before in reversed(log):
        if range_key is None:
            if before is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = before
            continue
        partition = table.items.get(hash_key)
        if before is None:
            if partition is not None:
                partition.pop(range_key, None)
                if not had and not partition:
                    del table.items[hash_key]
        else:
            table.items[hash_key][range_key] = before


def _install_undo_log() -> None:
    import moto.dynamodb.models as models

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "_warden_undo", False):
        return

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        log = _undo_log(self, transact_items)
        if log is None:
            return original(self, transact_items)
        real_copy = models.copy
        models.copy = _TableItself()  # type: ignore[assignment]
        try:
            return original(self, transact_items)
        except BaseException:
            _undo(log)
            raise
        finally:
            models.copy = real_copy

    transact_write_items._warden_undo = True  # type: ignore[attr-defined]
    transact_write_items._warden_original = original  # type: ignore[attr-defined]  (tests compare)
    models.DynamoDBBackend.transact_write_items = transact_write_items


_install_undo_log()
