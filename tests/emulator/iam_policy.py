"""A small, honest evaluator for resource-based policies: role trust policies (STS
AssumeRole, sts_ext.py) and event bus policies (cross-account delivery, events_ext.py).
README: "Trust policies and bus policies".

Supported, as the IAM policy reference describes them:
  * ``Effect`` Allow / Deny; an explicit Deny wins, then any Allow, else denied;
  * ``Principal``: ``"*"``, ``{"AWS": "*"}``, an account id ``"A"`` or ``arn:aws:iam::A:root``
    (any principal of account A: IAM in A decides the rest, which the emulator does not
    model, so every principal of A is taken as allowed there), a role ARN (sessions of that
    role), a user ARN; ``Service`` / ``Federated`` principals are understood and never match
    the callers the emulator has (IAM users and role sessions);
  * ``Action`` / ``Resource``: strings or lists, ``*`` and ``?`` wildcards, actions
    case-insensitively;
  * ``Condition``: ``StringEquals``, ``StringNotEquals``, ``StringLike``, ``StringNotLike``,
    ``StringEqualsIgnoreCase``, ``ArnEquals``, ``ArnLike`` on the keys ``aws:PrincipalOrgID``,
    ``aws:PrincipalAccount``, ``aws:PrincipalArn``, ``sts:ExternalId``; several values of a
    key match if any does, several keys and operators must all match; a key absent from the
    request matches no positive operator and every negated one.

Anything else (``NotPrincipal``, ``NotAction``, ``NotResource``, other operators or keys,
``...IfExists``, ``ForAnyValue:``, wildcards inside principal ARNs, a policy that is not JSON)
raises ``Unsupported``, and callers refuse the request: an evaluator that cannot read a policy
must not admit anyone through it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote


class Unsupported(Exception):
    """A policy form this evaluator does not read: the request is refused."""


@dataclass(frozen=True)
class Request:
    action: str
    resource: str | None
    account: str  # the principal's account
    principal_arn: str  # user ARN, role ARN (for a role session) or arn:aws:iam::A:root
    kind: str  # "user" | "assumed-role" | "account"
    org_id: str | None = None
    external_id: str | None = None

    def context(self) -> dict[str, str | None]:
        return {
            "aws:principalorgid": self.org_id,
            "aws:principalaccount": self.account,
            "aws:principalarn": self.principal_arn,
            "sts:externalid": self.external_id,
        }


_STATEMENT_KEYS = {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}
_OPERATORS = {
    "stringequals",
    "stringnotequals",
    "stringlike",
    "stringnotlike",
    "stringequalsignorecase",
    "arnequals",
    "arnlike",
}
_NEGATED = {"stringnotequals", "stringnotlike"}
_ACCOUNT = re.compile(r"[0-9]{12}")
_ROOT = re.compile(r"arn:aws:iam::([0-9]{12}|\*):root")
_IAM_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):(role|user)/[\w+=,.@/-]+")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def parse(document: Any) -> list[dict[str, Any]]:
    """The statements of a policy document (a JSON string, possibly URL-encoded, or a dict)."""
    if isinstance(document, str):
        text = document.strip()
        if not text.startswith("{"):
            text = unquote(text)
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise Unsupported(f"policy is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise Unsupported("policy is not a JSON object")
    statements = document.get("Statement")
    if statements is None:
        raise Unsupported("policy has no Statement")
    out = []
    for statement in _list(statements):
        if not isinstance(statement, dict):
            raise Unsupported("statement is not an object")
        extra = set(statement) - _STATEMENT_KEYS
        if extra:
            raise Unsupported(f"statement element(s) {sorted(extra)} not supported here")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise Unsupported(f"Effect {statement.get('Effect')!r}")
        out.append(statement)
    return out


def _principal_matches(principal: Any, req: Request) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict) or not principal:
        raise Unsupported(f"Principal {principal!r}")
    matched = False
    for kind, values in principal.items():
        if kind in ("Service", "Federated", "CanonicalUser"):
            continue  # never one of the emulator's callers
        if kind != "AWS":
            raise Unsupported(f"Principal type {kind!r}")
        for value in _list(values):
            if not isinstance(value, str):
                raise Unsupported(f"Principal {value!r}")
            if value == "*":
                matched = True
                continue
            root = _ROOT.fullmatch(value)
            if _ACCOUNT.fullmatch(value) or root:
                account = value if root is None else root.group(1)
                # arn:aws:iam::*:root is how moto stores PutPermission's Principal "*".
                matched |= account in ("*", req.account)
                continue
            arn = _IAM_ARN.fullmatch(value)
            if arn is None:
                raise Unsupported(f"Principal {value!r}")
            wanted = "assumed-role" if arn.group(2) == "role" else "user"
            matched |= req.kind == wanted and value == req.principal_arn
    return matched


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _conditions_match(condition: Any, req: Request) -> bool:
    if condition is None:
        return True
    if not isinstance(condition, dict):
        raise Unsupported("Condition is not an object")
    context = req.context()
    for operator, keys in condition.items():
        op = operator.lower()
        if op not in _OPERATORS:
            raise Unsupported(f"condition operator {operator!r}")
        if not isinstance(keys, dict):
            raise Unsupported(f"condition block {operator!r}")
        for key, values in keys.items():
            name = key.lower()
            if name not in context:
                raise Unsupported(f"condition key {key!r}")
            actual = context[name]
            wanted = [str(v) for v in _list(values)]
            if actual is None:
                if op not in _NEGATED:
                    return False
                continue
            if op in ("stringequals", "arnequals"):
                hit = actual in wanted
            elif op == "stringequalsignorecase":
                hit = actual.lower() in (w.lower() for w in wanted)
            elif op in ("stringlike", "arnlike"):
                hit = any(_wildcard(w, actual) for w in wanted)
            elif op == "stringnotequals":
                hit = actual not in wanted
            else:  # stringnotlike
                hit = not any(_wildcard(w, actual) for w in wanted)
            if not hit:
                return False
    return True


def _statement_applies(statement: dict[str, Any], req: Request) -> bool:
    if "Principal" not in statement:
        raise Unsupported("statement without Principal")
    actions = statement.get("Action")
    if actions is None:
        raise Unsupported("statement without Action")
    if not any(isinstance(a, str) and _wildcard(a, req.action, ignore_case=True) for a in _list(actions)):
        return False
    if "Resource" in statement:
        if req.resource is None:
            raise Unsupported("Resource in a trust policy")
        if not any(isinstance(r, str) and _wildcard(r, req.resource) for r in _list(statement["Resource"])):
            return False
    # Every condition is read (and an unsupported one refused) before the principal decides.
    conditions = _conditions_match(statement.get("Condition"), req)
    return _principal_matches(statement["Principal"], req) and conditions


def decide(document: Any, req: Request) -> bool:
    """True if the policy admits the request. Raises Unsupported for forms it cannot read."""
    allowed = False
    for statement in parse(document):
        if _statement_applies(statement, req):
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


def org_of(account: str) -> str | None:
    """The id of the organisation the account belongs to (management or member), if any,
    from moto's Organizations backend."""
    from moto.organizations.models import organizations_backends

    if account in organizations_backends:
        backend = organizations_backends[account].get("aws")
        if backend is not None and backend.org is not None:
            return backend.org.id
    managed = organizations_backends.master_accounts.get(account)
    if managed is not None:
        master, partition = managed
        org = organizations_backends[master][partition].org
        return org.id if org is not None else None
    return None
