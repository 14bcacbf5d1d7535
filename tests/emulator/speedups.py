"""Speed-ups of moto 5.2.5 internals that change no answer (README "Speed").

* ``moto.backends.list_of_moto_modules`` lists moto's package directory (``os.listdir`` and
  one ``stat`` per entry, about a hundred) and moto's server calls it twice for every
  request (``DomainDispatcherApplication.get_backend_for_host``): several milliseconds of
  CPU per request for an answer that cannot change while the process runs (the installed
  moto package). It is listed once, at import.
* ``Table.query`` on the table itself (no index) sorts *every* item of the table
  (``Table.all_items``) and then keeps those of the queried partition: a Query costs the
  whole table's size. Here the candidates are the partition's items only, in the same order
  (``all_items`` sorts by hash key then range key; within one partition that is the range
  key order, and ``query`` sorts them by range key again). Queries of an index are moto's.
* ``BaseResponse.call_action`` asks ``method_names_from_class`` (``inspect.getmembers`` over
  the whole response class, hundreds of attributes) for every request, only to test
  ``action in names``. The names are kept per class; a name not found is looked up again
  (so a method added later is still found). The extensions add their methods at import,
  and nothing removes one.
"""

from __future__ import annotations

import inspect
from typing import Any

import moto.backends as _backends
import moto.core.responses as _responses
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

_MODULES = tuple(_backends.list_of_moto_modules())


def _list_of_moto_modules() -> tuple[str, ...]:
    return _MODULES


_backends.list_of_moto_modules = _list_of_moto_modules  # type: ignore[assignment]


_original_query = Table.query
_QUERY_SIGNATURE = inspect.signature(_original_query)


def partition_items(table: Table, hash_key: Any) -> list[Item]:
    """The items of one partition, in ``Table.all_items`` order."""
    partition = table.items.get(hash_key)  # .get: no empty partition made by a read
    if partition is None:
        return []
    if table.range_key_attr:
        return sorted(partition.values(), key=lambda item: item.range_key)
    return [partition]  # type: ignore[list-item]


def _query(self: Table, *args: Any, **kwargs: Any) -> Any:
    bound = _QUERY_SIGNATURE.bind(self, *args, **kwargs)
    hash_key = bound.arguments.get("hash_key")
    if bound.arguments.get("index_name") or hash_key is None:
        return _original_query(self, *args, **kwargs)
    try:
        hash(hash_key)
    except Exception:  # a key moto cannot hash (a malformed number): moto's own path
        return _original_query(self, *args, **kwargs)
    # Only the no-index branch of moto's query calls all_items; it keeps the items whose
    # hash key equals the queried one, which are exactly that partition's.
    self.all_items = lambda: partition_items(self, hash_key)  # type: ignore[method-assign]
    try:
        return _original_query(self, *args, **kwargs)
    finally:
        del self.all_items


Table.query = _query  # type: ignore[method-assign]


_original_method_names = _responses.method_names_from_class


class MethodNames:
    """The function names of a response class, for ``in`` tests (all call_action does)."""

    def __init__(self, clazz: Any) -> None:
        self.clazz = clazz
        self.names = frozenset(_original_method_names(clazz))

    def __contains__(self, name: object) -> bool:
        if name in self.names:
            return True
        self.names = frozenset(_original_method_names(self.clazz))
        return name in self.names

    def __iter__(self) -> Any:
        return iter(sorted(self.names))


_METHOD_NAMES: dict[Any, MethodNames] = {}


def _method_names_from_class(clazz: Any) -> MethodNames:
    names = _METHOD_NAMES.get(clazz)
    if names is None:
        names = _METHOD_NAMES[clazz] = MethodNames(clazz)
    return names


_responses.method_names_from_class = _method_names_from_class  # type: ignore[assignment]
