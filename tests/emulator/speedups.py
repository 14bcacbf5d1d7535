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
  key order, and ``query`` sorts them by range key again). Moreover moto deep-copies every
  result and computes each visited item's ``size()`` twice; ``partition_query`` (moto's code
  otherwise) measures once, with ``item_size``, and hands the items over uncopied (see its
  docstring for why nothing can change them). Queries of an index, and those with legacy
  non-key conditions (``QueryFilter``), are moto's.
* ``BaseResponse.call_action`` asks ``method_names_from_class`` (``inspect.getmembers`` over
  the whole response class, hundreds of attributes) for every request, only to test
  ``action in names``. The names are kept per class; a name not found is looked up again
  (so a method added later is still found). The extensions add their methods at import,
  and nothing removes one.
* moto's JSON response serializer (``moto.core.serialize``) is driven by the botocore model:
  for every DynamoDB ``AttributeValue`` (each attribute of each returned item) it walks the
  shape's ten members and asks its attribute picker for each (six alias providers, botocore's
  ``xform_name``, a context object per member): about 1 ms per ledger item, nine tenths of a
  1,000-item Query. ``attribute_value_json`` gives the same JSON for the values moto's
  DynamoDB responses hold (``dynamo_to_dict``'s plain ``{type: value}`` dicts); anything else
  (another shape, a value of another form, response transformers) goes through moto's
  serializer as before. A map of AttributeValues (an item, a key) is written in one go the
  same way. It serves every DynamoDB response that holds items (GetItem, Query, Scan,
  BatchGetItem, the ReturnValues of writes).
* ``DynamoResult`` (every DynamoDB answer) turns the answer's model objects into plain dicts
  with ``dynamo_to_dict``, which asks each node ``isinstance`` of datetime, DynamoType, then
  ``hasattr(to_json)``, dict, list. ``plain_dynamo_to_dict`` gives the same for the exact
  types a Query answer holds (DynamoType, dicts, lists, strings, numbers) and hands any
  other object (binary values, datetimes, model objects, subclasses) to moto's.
* Identity Store ``list_users`` without a filter made a dict of every user of the store for
  every page, then looked the page token's user up one by one with the paginator's
  predicate: about 200 ms of CPU a page at 30,000 users. ``list_users`` makes only the page's
  users into dicts and finds the token's user among the store's keys; the page, the token
  and the token errors are moto's (its own ``Paginator`` makes and reads them).
"""

from __future__ import annotations

import inspect
from typing import Any

import moto.backends as _backends
import moto.core.responses as _responses
import moto.core.serialize as _serialize
import moto.dynamodb.models.utilities as _dynamodb_utilities
import moto.dynamodb.responses as _dynamodb_responses
from moto.core.utils import get_service_model
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table
from moto.core.exceptions import InvalidToken as _InvalidToken
from moto.identitystore.models import IdentityStoreBackend as _IdentityStoreBackend
from moto.utilities.paginator import Paginator as _Paginator

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
    arguments = bound.arguments
    hash_key = arguments.get("hash_key")
    if arguments.get("index_name") or hash_key is None or arguments.get("filter_kwargs"):
        return _original_query(self, *args, **kwargs)
    try:
        hash(hash_key)
    except Exception:  # a key moto cannot hash (a malformed number): moto's own path
        return _original_query(self, *args, **kwargs)
    bound.apply_defaults()
    return partition_query(self, **{name: value for name, value in bound.arguments.items() if name != "self"})


def partition_query(
    table: Table,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: Any = None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
    filter_kwargs: dict[str, Any] | None = None,
) -> tuple[list[Item], int, dict[str, Any] | None]:
    """moto 5.2.5's ``Table.query`` for a query of the table itself (no index) without
    legacy filter conditions (``filter_kwargs``), statement for statement, except:

    * the candidates are the partition's items only (``partition_items``);
    * each visited item's size is computed once (moto computes it for the page-size test
      and again when it adds the item; nothing changes the item in between), by
      ``item_size`` (moto's ``Item.size()``, faster);
    * the results are not deep-copied. moto's only caller (``DynamoDBBackend.query``, from
      ``DynamoHandler.query``) turns them into plain dicts (``DynamoResult`` /
      ``dynamo_to_dict``) in the same request, under the emulator's request lock, and nothing
      before that mutates them: the filter expression only reads items, a projection builds
      new ones (``Item.project``), and the response reads ``item.attrs``.
    """
    last_range_key_name = range_key_conditions[-1][0] if range_key_conditions else None
    hash_attrs = [table.hash_key_attr]
    range_attrs = [table.range_key_attr]
    possible_results = [
        item for item in partition_items(table, hash_key) if isinstance(item, Item) and item.hash_key == hash_key
    ]
    possible_results.sort(key=lambda item: item.range_key)  # type: ignore[arg-type,return-value]
    if scan_index_forward is False:
        possible_results.reverse()

    results: list[Item] = []
    result_size = 0
    scanned_count = 0
    last_evaluated_key = None
    processing_previous_page = exclusive_start_key is not None
    for result in possible_results:
        if processing_previous_page:
            if table._item_comes_before_dct(
                result, exclusive_start_key, hash_attrs, range_attrs, scan_index_forward  # type: ignore[arg-type]
            ):
                continue
            processing_previous_page = False
        size = item_size(result)
        reached_length_limit = len(results) == limit
        reached_size_limit = (result_size + size) > RESULT_SIZE_LIMIT
        if reached_length_limit or reached_size_limit:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], None)
            break
        if not range_comparison:
            results.append(result)
            result_size += size
            scanned_count += 1
        else:
            range_value = result.attrs.get(last_range_key_name) if last_range_key_name else None
            if last_range_key_name and range_value:
                if range_value.compare(range_comparison, range_objs):
                    results.append(result)
                    result_size += size
                    scanned_count += 1
            elif result.range_key.compare(range_comparison, range_objs):  # type: ignore[union-attr]
                results.append(result)
                result_size += size
                scanned_count += 1

    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expressions:
        results = [item.project(projection_expressions) for item in results]
    return results, scanned_count, last_evaluated_key


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


# ------------------------------------------------------------------ DynamoDB AttributeValue JSON

# The members of the model's AttributeValue, in model order, with their shape types: what
# attribute_value_json knows how to write. Checked at import against the installed model.
ATTRIBUTE_VALUE_MEMBERS = {
    "S": "string",
    "N": "string",
    "B": "blob",
    "SS": "list",
    "NS": "list",
    "BS": "list",
    "M": "map",
    "L": "list",
    "NULL": "boolean",
    "BOOL": "boolean",
}


def _model_attribute_value_members() -> dict[str, str]:
    shape = get_service_model("dynamodb").shape_for("AttributeValue")
    members = {}
    for name, member in shape.members.items():
        kind = member.type_name
        if kind == "list":
            kind = f"list of {member.member.type_name}"
        elif kind == "map":
            kind = f"map of {member.key.type_name} to {member.value.name}"
        members[name] = kind
    return members


_EXPECTED_MODEL = {
    **ATTRIBUTE_VALUE_MEMBERS,
    "SS": "list of string",
    "NS": "list of string",
    "BS": "list of blob",
    "M": "map of string to AttributeValue",
    "L": "list of structure",
}
assert _model_attribute_value_members() == _EXPECTED_MODEL, "botocore's DynamoDB AttributeValue changed"


class NotPlain(Exception):
    """A value attribute_value_json does not write: moto's serializer writes it."""


def attribute_value_json(value: Any, base64: Any) -> Any:
    """What moto's JSON serializer writes for one DynamoDB AttributeValue ``value`` (a dict
    of one type key, as ``dynamo_to_dict`` makes them), or NotPlain.

    moto's serializer picks each member's value from the dict under the member's name (or
    aliases: the member shape's name, their snake_case forms, none of which is a type key);
    a dict of exactly one type key therefore yields that member alone. Strings are written
    as they are (``str`` of a ``str``), blobs through the serializer's own ``_base64``,
    booleans as they are, lists and maps member by member.
    """
    if type(value) is not dict or len(value) != 1:
        raise NotPlain
    ((kind, inner),) = value.items()
    if kind == "S" or kind == "N":
        if type(inner) is not str:
            raise NotPlain
        return {kind: inner}
    if kind == "M":
        if type(inner) is not dict:
            raise NotPlain
        out = {}
        for key, member in inner.items():
            if type(key) is not str or not key:
                raise NotPlain
            out[key] = attribute_value_json(member, base64)
        return {"M": out}
    if kind == "L":
        if type(inner) is not list:
            raise NotPlain
        return {"L": [attribute_value_json(member, base64) for member in inner]}
    if kind == "SS" or kind == "NS":
        if type(inner) is not list or any(type(member) is not str for member in inner):
            raise NotPlain
        return {kind: list(inner)}
    if kind == "BOOL" or kind == "NULL":
        if type(inner) is not bool:
            raise NotPlain
        return {kind: inner}
    if kind == "B":
        if type(inner) is not bytes:
            raise NotPlain
        return {"B": base64(inner)}
    if kind == "BS":
        if type(inner) is not list or any(type(member) is not bytes for member in inner):
            raise NotPlain
        return {"BS": [base64(member) for member in inner]}
    raise NotPlain


_original_serialize_structure = _serialize.JSONSerializer._serialize_type_structure
_PICKER = _serialize.XFormedAttributePicker
_ALIAS_PROVIDERS = list(_serialize.DEFAULT_ALIAS_PROVIDERS)


def _plain_picker(picker: Any) -> bool:
    """moto's picker for a DynamoDB response: no transformers, the default aliases."""
    return (
        type(picker) is _PICKER
        and not picker.response_transformers
        and picker.alias_providers == _ALIAS_PROVIDERS
    )


def _fast_dynamodb(serializer: Any) -> bool:
    """Whether a serializer writes DynamoDB with moto's plain value picker (the only case the
    fast paths below write exactly as moto would)."""
    return serializer.service_model.service_name == "dynamodb" and _plain_picker(serializer._value_picker)


def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
    if key and shape.name == "AttributeValue" and _fast_dynamodb(self):
        try:
            out = attribute_value_json(value, self._base64)
        except NotPlain:
            pass
        else:
            self._default_serialize(serialized, out, shape, key)
            return
    _original_serialize_structure(self, serialized, value, shape, key)


_serialize.JSONSerializer._serialize_type_structure = _serialize_type_structure  # type: ignore[method-assign]


_original_serialize_map = _serialize.JSONSerializer._serialize_type_map


def _serialize_type_map(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
    """A map of AttributeValues (an item, a key) in one go: moto's JSON map writes
    ``{name: <the member's structure>}`` for each entry, under the entry's own name (the
    AttributeValue shape has no serialized name) when it is not empty."""
    if type(value) is dict and shape.value.name == "AttributeValue" and _fast_dynamodb(self):
        try:
            out = {}
            for name, member in value.items():
                if type(name) is not str or not name:
                    raise NotPlain
                out[name] = attribute_value_json(member, self._base64)
        except NotPlain:
            pass
        else:
            self._default_serialize(serialized, out, shape, key)
            return
    _original_serialize_map(self, serialized, value, shape, key)


_serialize.JSONSerializer._serialize_type_map = _serialize_type_map  # type: ignore[method-assign]


# ------------------------------------------------------------------ DynamoDB answers to plain dicts

_original_dynamo_to_dict = _dynamodb_utilities.dynamo_to_dict
_SCALARS = (str, int, bool, float, type(None))


def plain_dynamo_to_dict(obj: Any) -> Any:
    """moto's ``dynamo_to_dict`` (a new dict or list for every node: nothing of the answer is
    shared with the stored items but immutable strings, numbers and booleans)."""
    kind = type(obj)
    if kind is DynamoType:
        inner = obj.value
        if obj.type == "B" or obj.type == "BS":
            return _original_dynamo_to_dict(obj)  # base64 text to bytes: moto's
        inner_kind = type(inner)
        if inner_kind is str or inner_kind is bool:
            return {obj.type: inner}
        if inner_kind is list:
            return {obj.type: [plain_dynamo_to_dict(member) for member in inner]}
        if inner_kind is dict:
            return {obj.type: {key: plain_dynamo_to_dict(member) for key, member in inner.items()}}
        return {obj.type: _original_dynamo_to_dict(inner)}
    if kind is dict or kind is LimitedSizeDict:
        return {key: plain_dynamo_to_dict(member) for key, member in obj.items()}
    if kind is list:
        return [plain_dynamo_to_dict(member) for member in obj]
    if kind in _SCALARS:
        return obj
    return _original_dynamo_to_dict(obj)


_dynamodb_responses.dynamo_to_dict = plain_dynamo_to_dict  # type: ignore[assignment]


# (owner, attribute, moto's own) of each DynamoDB speed-up above: the tests put moto's back to
# compare the answers.
DYNAMODB_ORIGINALS: list[tuple[Any, str, Any]] = [
    (Table, "query", _original_query),
    (_serialize.JSONSerializer, "_serialize_type_structure", _original_serialize_structure),
    (_serialize.JSONSerializer, "_serialize_type_map", _original_serialize_map),
    (_dynamodb_responses, "dynamo_to_dict", _original_dynamo_to_dict),
]


# ------------------------------------------------------------------ DynamoDB item sizes


def _text_size(value: Any) -> int:
    if type(value) is str:
        return len(value.encode("utf-8"))
    if type(value) is bytes:
        return len(value)
    raise NotPlain


def _value_size(value: Any) -> int:
    """``DynamoType.size`` of a DynamoType whose members are DynamoTypes (else NotPlain)."""
    if type(value) is not DynamoType:
        raise NotPlain
    kind, inner = value.type, value.value
    if kind == "N":
        return len(str(inner))
    if kind == "SS" or kind == "BS":
        return sum(1 if isinstance(member, bool) else _text_size(member) for member in inner)
    if kind == "NS":
        return sum(len(str(member)) for member in inner)
    if kind == "L":
        return sum(_value_size(member) for member in inner)
    if kind == "M":
        return sum(_text_size(key) + _value_size(member) for key, member in inner.items())
    if isinstance(inner, bool):
        return 1
    return _text_size(inner)


def item_size(item: Item) -> int:
    """moto's ``Item.size()`` (the sum of each attribute's name and value sizes, as
    ``DynamoType.size`` counts them) without its per-value method calls and the copy
    ``DynamoType(v)`` of every map member; anything unusual is measured by moto's."""
    try:
        return sum(_text_size(key) + _value_size(value) for key, value in item.attrs.items())
    except NotPlain:
        return item.size()


# ------------------------------------------------------------------ Identity Store ListUsers

_original_list_users = _IdentityStoreBackend.list_users
_LIST_USERS_PAGINATION = _IdentityStoreBackend.PAGINATION_MODEL["list_users"]


def _user_dict(user: Any) -> dict[str, Any]:
    """One user as moto's ``list_users`` lists it."""
    out = user._asdict()
    if out.get("Name"):
        out["Name"] = user.Name._asdict()
    return out


def list_users(
    self: _IdentityStoreBackend,
    identity_store_id: str,
    filters: list[dict[str, str]] | None = None,
    max_results: Any = None,
    next_token: Any = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """moto 5.2.5's ``list_users`` (its ``@paginate``'d method) without a filter, with the
    same page and the same ``NextToken``, but at the cost of one page rather than of the
    whole store. moto makes a dict of every user of the store (``_asdict()``, and again for
    its name) for every page, then looks the token's user up one by one with the paginator's
    predicate: about 200 ms of CPU a page of 100 at 30,000 users, under the request lock.
    Here the page starts at the token's user found in the store's keys (a user is stored
    under its own ``UserId``, which is what the token names), and only the page's users are
    made into dicts. The token, its checksum and its errors are moto's own ``Paginator``'s.
    A request with filters is moto's."""
    if filters:
        return _original_list_users(
            self, identity_store_id=identity_store_id, filters=filters, max_results=max_results, next_token=next_token
        )
    paginator = _Paginator(
        max_results=max_results,
        max_results_default=_LIST_USERS_PAGINATION.get("limit_default"),
        starting_token=next_token,
        unique_attribute=_LIST_USERS_PAGINATION.get("unique_attribute"),
        param_values_to_check={"identity_store_id": identity_store_id, "filters": filters},
        fail_on_invalid_token=_LIST_USERS_PAGINATION.get("fail_on_invalid_token", True),
    )
    store = self._IdentityStoreBackend__get_identity_store(identity_store_id)  # type: ignore[attr-defined]
    users = store.users
    keys = list(users)
    start = 0
    if next_token:
        # moto's predicate reads the token for each user in turn: with no user it reads
        # nothing, and a token of another shape then fails as a token not found.
        parsed = paginator._parsed_token
        wanted = parsed["uniqueAttributes"].split("|")[0] if parsed is not None and keys else None
        if wanted is not None and wanted in users:
            start = keys.index(wanted)
        elif paginator._fail_on_invalid_token:
            raise _InvalidToken("Resource not found!")
        else:
            return [], None
    end = min(start + paginator._max_results, len(keys))
    page = [_user_dict(users[key]) for key in keys[start:end]]
    token = paginator._build_next_token(users[keys[end]]) if page and end < len(keys) else None
    return page, token


_IdentityStoreBackend.list_users = list_users  # type: ignore[method-assign]

IDENTITYSTORE_ORIGINALS: list[tuple[Any, str, Any]] = [(_IdentityStoreBackend, "list_users", _original_list_users)]
