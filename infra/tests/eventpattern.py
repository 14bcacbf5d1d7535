"""EventBridge event-pattern matching, for the operators the stack's rules use.

A faithful small implementation of the documented semantics
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html and
eb-create-pattern-operators.html), so that the tests can evaluate the deployed patterns against
the sample events in events/:

- every field of the pattern must match (AND); fields the pattern does not name are ignored;
- a leaf is a list of matchers, and matches when any matcher matches; when the event's value is
  an array, it matches when any element does;
- matchers: exact values (string, number, boolean, null), `{"prefix": ...}`,
  `{"exists": true|false}` (a present key exists, whatever its value, null included),
  `{"anything-but": value | [values] | {"prefix": ...}}` (never matches an absent field);
- a nested object descends into the event's object; when the event holds an array of objects
  there, the pattern matches if any element matches (EventBridge flattens arrays of objects);
- `$or` holds alternative patterns, any of which may match, ANDed with the object's other fields.

Anything else (numeric, suffix, wildcard, equals-ignore-case, cidr, exists on an object) is
refused, so that a new operator in the stack cannot be silently mis-evaluated.
"""

from __future__ import annotations

_MISSING = object()


def matches(pattern: dict, event) -> bool:
    if not isinstance(pattern, dict):
        raise AssertionError(f"a pattern is an object, not {pattern!r}")
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(branch, event) for branch in expected):
                return False
            continue
        actual = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(expected, dict):
            if not _object_matches(expected, actual):
                return False
        elif isinstance(expected, list):
            if not _leaf_matches(expected, actual):
                return False
        else:
            raise AssertionError(f"pattern field {key!r} must be an object or a list of matchers")
    return True


def _object_matches(pattern: dict, actual) -> bool:
    if isinstance(actual, list):
        return any(isinstance(item, dict) and matches(pattern, item) for item in actual)
    if isinstance(actual, dict):
        return matches(pattern, actual)
    # Absent (or a scalar): only `exists: false` leaves underneath can still hold.
    return matches(pattern, {})


def _leaf_matches(matchers: list, actual) -> bool:
    if isinstance(actual, dict) or (isinstance(actual, list) and any(isinstance(v, (dict, list)) for v in actual)):
        raise AssertionError(f"leaf matchers {matchers} applied to a non-scalar value {actual!r}")
    values = actual if isinstance(actual, list) else [actual]
    for matcher in matchers:
        if isinstance(matcher, dict):
            if len(matcher) != 1:
                raise AssertionError(f"one operator per matcher: {matcher}")
            (operator, argument), = matcher.items()
            if operator == "exists":
                present = actual is not _MISSING and actual != []
                if present == bool(argument):
                    return True
            elif operator == "prefix":
                if any(isinstance(v, str) and v.startswith(argument) for v in values if v is not _MISSING):
                    return True
            elif operator == "anything-but":
                if actual is _MISSING:
                    continue
                if any(not _excluded(argument, v) for v in values):
                    return True
            else:
                raise AssertionError(f"the test matcher does not implement {operator!r}")
        else:
            if any(v is not _MISSING and _equal(matcher, v) for v in values):
                return True
    return False


def _equal(expected, value) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return type(expected) is type(value) and expected == value
    return expected == value


def _excluded(argument, value) -> bool:
    if isinstance(argument, dict):
        (operator, prefix), = argument.items()
        if operator != "prefix":
            raise AssertionError(f"anything-but {operator} is not implemented here")
        return isinstance(value, str) and value.startswith(prefix)
    return any(_equal(a, value) for a in (argument if isinstance(argument, list) else [argument]))
