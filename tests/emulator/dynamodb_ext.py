"""DynamoDB TransactWriteItems idempotency, which moto 5.2.5 ignores.

AWS: a TransactWriteItems call with a ``ClientRequestToken`` is idempotent for 10
minutes: repeating it with the same token and the same parameters succeeds without
applying the writes again; the same token with different parameters fails with
``IdempotentParameterMismatchException``. moto applies every call, so a redelivered
transaction would double-apply. This module sits in front of moto for that one
operation (requests are already serialised by the emulator's request lock).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any, Callable, Iterable

WINDOW_SECONDS = 600.0

# (region, token) -> (parameters digest, time, status line, headers, body)
_CACHE: dict[tuple[str, str], tuple[str, float, str, list[tuple[str, str]], bytes]] = {}


def clear() -> None:
    _CACHE.clear()


def transact_write_items(
    app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    body: bytes,
    region: str,
) -> Iterable[bytes]:
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return app(environ, start_response)
    token = params.pop("ClientRequestToken", None) if isinstance(params, dict) else None
    if not token:
        return app(environ, start_response)
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    now = time.monotonic()
    for key in [k for k, v in _CACHE.items() if now - v[1] > WINDOW_SECONDS]:
        del _CACHE[key]
    cached = _CACHE.get((region, token))
    if cached is not None:
        if cached[0] != digest:
            payload = json.dumps(
                {
                    "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                    "message": "Request parameters do not match the parameters of the previous request "
                    "with the same ClientRequestToken",
                }
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
        _, _, status, headers, payload = cached
        start_response(status, headers)
        return [payload]

    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"] = status
        captured["headers"] = list(headers)
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    chunks = list(app(environ, capture))
    payload = b"".join(chunks)
    if str(captured.get("status", "")).startswith("200"):
        _CACHE[(region, token)] = (digest, now, captured["status"], captured["headers"], payload)
    return [payload]


# --------------------------------------------------------------------------------------
# Opt-in (benchmarks): a cheap rollback snapshot for TransactWriteItems.
#
# moto 5.2.5's DynamoDBBackend.transact_write_items takes its rollback backup with
# copy.deepcopy(table) once per transaction item, so every transaction costs a deep copy of
# the whole table: time and memory grow with the table, and a sweep that writes one
# transaction per user is quadratic (measured: 1,700 creates in 11 min and an 11 GB emulator
# at 10,000 users). With fast_transactions on, a transaction made only of Put, Delete and
# ConditionCheck items gets a shallow snapshot instead: a copy of the Table object whose item
# dicts are new but whose Item objects are shared. That restores correctly for those
# operations (moto's put replaces the Item object, delete pops it; neither mutates an Item);
# a transaction with an Update item (which mutates Items in place) still gets moto's deep
# copy. Off by default: /_emulator/config {"fast_transactions": true} or --fast-transactions.

FAST_TRANSACTIONS = {"enabled": False}


def _snapshot(table: Any) -> Any:
    import copy
    from collections import defaultdict

    clone = copy.copy(table)
    items = defaultdict(dict)
    for key, value in table.items.items():
        items[key] = dict(value) if isinstance(value, dict) else value
    clone.items = items
    return clone


class _ShallowTableCopy:
    """Stands in for the copy module inside moto.dynamodb.models during one transaction."""

    def deepcopy(self, obj: Any, memo: Any = None) -> Any:
        import copy

        from moto.dynamodb.models.table import Table

        if isinstance(obj, Table):
            return _snapshot(obj)
        return copy.deepcopy(obj, memo)

    def __getattr__(self, name: str) -> Any:
        import copy

        return getattr(copy, name)


def _install_fast_transactions() -> None:
    import moto.dynamodb.models as models

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "_warden_fast", False):
        return

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        simple = all(
            next(iter(item.keys()), None) in ("Put", "Delete", "ConditionCheck") for item in transact_items
        )
        if not (FAST_TRANSACTIONS["enabled"] and simple):
            return original(self, transact_items)
        real_copy = models.copy
        models.copy = _ShallowTableCopy()  # type: ignore[assignment]
        try:
            return original(self, transact_items)
        finally:
            models.copy = real_copy

    transact_write_items._warden_fast = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items


_install_fast_transactions()
