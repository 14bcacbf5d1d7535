"""Small readers for IAM documents and resources, shared by the tests."""

from __future__ import annotations

import fnmatch
import json

READ_ONLY_PREFIXES = ("Describe", "List", "Get")


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(doc: dict) -> list[dict]:
    return as_list(doc.get("Statement"))


def is_read_only(action: str) -> bool:
    """Describe*/List*/Get* actions read; anything else (Create, Put, Pass, Send, `*`) mutates."""
    _, _, name = action.partition(":")
    return name.startswith(READ_ONLY_PREFIXES)


def action_matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def grants(doc: dict, action: str) -> list[dict]:
    """The Allow statements of `doc` whose Action covers `action` (wildcards included)."""
    return [
        s
        for s in statements(doc)
        if s.get("Effect") == "Allow" and any(action_matches(p, action) for p in as_list(s.get("Action")))
    ]


def resources_granted(doc: dict, action: str) -> set[str]:
    return {r for s in grants(doc, action) for r in as_list(s.get("Resource"))}


def actions_on(doc: dict, prefix: str) -> set[str]:
    return {a for s in statements(doc) if s.get("Effect") == "Allow" for a in as_list(s.get("Action")) if a.startswith(prefix)}


def pattern(resource) -> dict:
    return json.loads(resource.inputs["eventPattern"])


# --- A small IAM evaluator -------------------------------------------------------------------
# Enough of IAM's identity-policy evaluation to ask the questions the tests ask: does any Allow
# statement cover this action on this resource with this request context (no explicit Deny in
# the stack's identity policies)? Supported: Action/Resource wildcards, policy variables
# (${aws:SourceIdentity}, ...), and the condition operators the stack uses, with IAM's rules for
# absent keys (an operator on a missing key is false, except Null and ForAllValues:*, which is
# true on a missing or empty key) and for multi-valued keys (ForAllValues / ForAnyValue).


def _substitute(text: str, context: dict) -> str | None:
    out = text
    while "${" in out:
        start = out.index("${")
        end = out.index("}", start)
        value = context.get(out[start + 2 : end])
        if not isinstance(value, str):
            return None  # a variable with no value makes the element match nothing
        out = out[:start] + value + out[end + 1 :]
    return out


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _operator_matches(operator: str, expected: list, actual) -> bool:
    if operator == "Null":
        return (actual is None) == (str(expected[0]).lower() == "true")
    if actual is None:
        return operator.startswith("ForAllValues:")
    qualifier, _, base = operator.rpartition(":")
    values = as_list(actual)
    if base.endswith("IfExists"):
        base = base[: -len("IfExists")]

    def one(value) -> bool:
        value = str(value)
        if base in ("StringEquals", "ArnEquals"):
            return value in expected
        if base in ("StringLike", "ArnLike"):
            return any(_like(p, value) for p in expected)
        if base == "StringNotLike":
            return not any(_like(p, value) for p in expected)
        if base == "StringNotEquals":
            return value not in expected
        if base == "Bool":
            return value.lower() in [e.lower() for e in expected]
        raise AssertionError(f"the test evaluator does not know {operator}")

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    assert len(values) == 1, f"{operator} on a multi-valued key needs ForAllValues/ForAnyValue"
    return one(values[0])


def statement_allows(stmt: dict, action: str, resource: str, context: dict) -> bool:
    if not any(action_matches(p, action) for p in as_list(stmt.get("Action"))):
        return False
    patterns = [_substitute(r, context) for r in as_list(stmt.get("Resource"))]
    if not any(p is not None and _like(p, resource) for p in patterns):
        return False
    for operator, keys in (stmt.get("Condition") or {}).items():
        for key, expected in keys.items():
            expected = [_substitute(str(e), context) for e in as_list(expected)]
            expected = [e for e in expected if e is not None]
            actual = context.get(key)
            if not _operator_matches(operator, expected, actual):
                return False
    return True


def allowed(doc: dict, action: str, resource: str, context: dict | None = None) -> bool:
    """Whether the identity policy `doc` allows the request (no Deny statements expected)."""
    context = context or {}
    assert not [s for s in statements(doc) if s.get("Effect") == "Deny"], "the evaluator ignores Deny"
    return any(statement_allows(s, action, resource, context) for s in statements(doc) if s.get("Effect") == "Allow")
