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
