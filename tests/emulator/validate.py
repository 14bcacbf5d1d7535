"""Request validation derived mechanically from AWS's own service models.

botocore ships each service's model (``botocore/data/<service>/<version>/service-2.json``):
for every operation its input shape, and for every shape the constraints AWS's front end
enforces before the service sees the request: ``required`` members, string ``min``/``max``
length and ``pattern``, ``enum`` values, numeric ``min``/``max``, list and map sizes, nested
structures. This module walks a request against its operation's input shape and reports
every violation the way AWS's JSON services do::

    1 validation error detected: Value 'x&y' at 'tags.1.member.value' failed to satisfy
    constraint: Member must satisfy regular expression pattern: ([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)

(member paths in lower camel case, list elements as ``.N.member`` counting from 1, several
errors joined by ``; ``). Patterns are Java regular expressions matched against the whole
value; the ``regex`` module (pinned in requirements.lock) understands their ``\\p{L}``-style
classes. One walk is linear in the size of the request; models and compiled patterns are
cached, so validation adds no per-item cost to bulk paths.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import botocore.loaders

try:
    import regex as _re
except ImportError:  # pragma: no cover - regex is pinned; plain re lacks \p{..}
    import re as _re  # type: ignore[no-redef]

_LOADER = botocore.loaders.Loader()
_LOCK = threading.Lock()
_MODELS: dict[str, dict[str, Any]] = {}
_PATTERNS: dict[str, Any] = {}


def service_model(name: str) -> dict[str, Any]:
    """The raw service-2.json of a botocore service name (``sagemaker``, ``sso-admin``...)."""
    model = _MODELS.get(name)
    if model is None:
        with _LOCK:
            model = _MODELS.get(name)
            if model is None:
                model = _LOADER.load_service_model(name, "service-2")
                _MODELS[name] = model
    return model


# Java writes characters beyond the BMP as UTF-16 surrogate pairs; Python strings hold code
# points, so the pair range becomes the code point range it stands for.
_JAVA_SURROGATES = "\\uD800\\uDC00-\\uDBFF\\uDFFF"


def _pattern(pattern: str) -> Any:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        try:
            compiled = _re.compile(pattern.replace(_JAVA_SURROGATES, "\\U00010000-\\U0010FFFF"))
        except Exception:  # pragma: no cover - an untranslatable pattern is not enforced
            compiled = False
        _PATTERNS[pattern] = compiled
    return compiled


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    """Values as AWS's (Java) front end prints them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"
    return str(value)


class _Walk:
    def __init__(self, shapes: dict[str, Any]) -> None:
        self.shapes = shapes
        self.errors: list[str] = []

    def fail(self, value: Any, path: str, shape: dict[str, Any], constraint: str) -> None:
        if shape.get("sensitive"):
            self.errors.append(f"Value at '{path}' failed to satisfy constraint: {constraint}")
        elif value is None:
            self.errors.append(f"Value null at '{path}' failed to satisfy constraint: {constraint}")
        else:
            self.errors.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: {constraint}")

    def scalar_constraints(self, value: Any, shape: dict[str, Any]) -> list[str]:
        """Constraints a string/number value breaks (no recursion)."""
        out: list[str] = []
        kind = shape.get("type")
        if kind == "string" and isinstance(value, str):
            if "max" in shape and len(value) > shape["max"]:
                out.append(f"Member must have length less than or equal to {shape['max']}")
            if "min" in shape and len(value) < shape["min"]:
                out.append(f"Member must have length greater than or equal to {shape['min']}")
            if "enum" in shape and value not in shape["enum"]:
                out.append(f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]")
            elif "pattern" in shape:
                compiled = _pattern(shape["pattern"])
                if compiled and compiled.fullmatch(value) is None:
                    out.append(f"Member must satisfy regular expression pattern: {shape['pattern']}")
        elif kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)) and not isinstance(value, bool):
            if "max" in shape and value > shape["max"]:
                out.append(f"Member must have value less than or equal to {shape['max']}")
            if "min" in shape and value < shape["min"]:
                out.append(f"Member must have value greater than or equal to {shape['min']}")
        return out

    def check(self, value: Any, shape_name: str, path: str) -> None:
        shape = self.shapes[shape_name]
        kind = shape.get("type")
        if kind == "structure":
            if not isinstance(value, dict):
                return
            members = shape.get("members", {})
            for required in shape.get("required", []):
                if value.get(required) is None:
                    member_shape = self.shapes[members[required]["shape"]]
                    self.fail(None, _join(path, required), member_shape, "Member must not be null")
            for name, member in members.items():
                if value.get(name) is not None:
                    self.check(value[name], member["shape"], _join(path, name))
        elif kind == "list":
            if not isinstance(value, list):
                return
            self.size(value, shape, path)
            member_name = shape["member"]["shape"]
            member = self.shapes[member_name]
            if member.get("type") in ("structure", "list", "map"):
                for i, item in enumerate(value, start=1):
                    self.check(item, member_name, f"{path}.{i}.member")
            else:
                broken: list[str] = []
                for item in value:
                    for c in self.scalar_constraints(item, member):
                        if c not in broken:
                            broken.append(c)
                if broken:
                    self.fail(value, path, member, f"Member must satisfy constraint: [{', '.join(broken)}]")
        elif kind == "map":
            if not isinstance(value, dict):
                return
            self.size(value, shape, path)
            key_shape = self.shapes[shape["key"]["shape"]]
            value_name = shape["value"]["shape"]
            value_shape = self.shapes[value_name]
            key_broken: list[str] = []
            value_broken: list[str] = []
            for k, v in value.items():
                key_broken += [c for c in self.scalar_constraints(k, key_shape) if c not in key_broken]
                if value_shape.get("type") in ("structure", "list", "map"):
                    self.check(v, value_name, f"{path}.{k}")
                else:
                    value_broken += [c for c in self.scalar_constraints(v, value_shape) if c not in value_broken]
            if key_broken:
                self.fail(value, path, shape, f"Map keys must satisfy constraint: [{', '.join(key_broken)}]")
            if value_broken:
                self.fail(value, path, shape, f"Map value must satisfy constraint: [{', '.join(value_broken)}]")
        else:
            for constraint in self.scalar_constraints(value, shape):
                self.fail(value, path, shape, constraint)

    def size(self, value: Any, shape: dict[str, Any], path: str) -> None:
        if "max" in shape and len(value) > shape["max"]:
            self.fail(value, path, shape, f"Member must have length less than or equal to {shape['max']}")
        if "min" in shape and len(value) < shape["min"]:
            self.fail(value, path, shape, f"Member must have length greater than or equal to {shape['min']}")


def _join(path: str, member: str) -> str:
    return f"{path}.{_camel(member)}" if path else _camel(member)


def errors(service: str, operation: str, params: Any) -> list[str]:
    """Every constraint of ``operation``'s input shape that ``params`` breaks (empty when
    valid, or when the model has no such operation)."""
    model = service_model(service)
    op = model["operations"].get(operation)
    if op is None or "input" not in op:
        return []
    walk = _Walk(model["shapes"])
    walk.check(params if isinstance(params, dict) else {}, op["input"]["shape"], "")
    return walk.errors


def message(found: list[str]) -> str:
    n = len(found)
    return f"{n} validation error{'s' if n != 1 else ''} detected: " + "; ".join(found)


def validate_json_body(service: str, operation: str, body: bytes) -> str | None:
    """For JSON-protocol requests: the ValidationException message, or None when valid
    (or when the body is not JSON: the service's own parser answers that)."""
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return None
    found = errors(service, operation, params)
    return message(found) if found else None
