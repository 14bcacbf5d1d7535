"""STS AssumeRole honours the role's trust policy (moto 5.2.5 checks nothing: any caller gets
credentials for any ARN, even of a role that does not exist). README: "Trust policies and
bus policies".

Before moto sees an AssumeRole, the emulator looks the role up in its account's IAM and
evaluates its trust policy (iam_policy.py) for the caller (accounts.py) with the action
``sts:AssumeRole`` and the request's ``ExternalId``. A caller that is not admitted, a role
that does not exist, and a trust policy in a form iam_policy.py does not read all get
``AccessDenied`` (HTTP 403, the STS API reference's common error). moto then issues the
credentials, filed under the role's account, so they act in that account (accounts.py).

Identity-based policies are not evaluated (moto does not model IAM permissions in server
mode here): a caller admitted by an ``arn:aws:iam::A:root`` trust is taken as allowed by IAM
in its own account A.

Also: ``/_emulator/organizations/accounts`` puts existing account ids into an organisation
(``aws:PrincipalOrgID``), since moto's CreateAccount draws random ids and moto has no
invitations.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Callable
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from moto.core.utils import utcnow

import iam_policy
from accounts import Caller

_ROLE_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):role/[\w+=,.@/-]+")


def _params(environ: dict[str, Any], body: bytes) -> dict[str, str]:
    params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded") and body:
        params.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
    return params


def refusal(caller: Caller, environ: dict[str, Any], body: bytes) -> str | None:
    """None if the caller may assume the role named in the request, else the reason."""
    params = _params(environ, body)
    role_arn = params.get("RoleArn", "")
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        return f"{role_arn!r} is not an IAM role ARN"
    from moto.iam.models import iam_backends
    from moto.iam.exceptions import NotFoundException

    try:
        role = iam_backends[match.group(1)]["aws"].get_role_by_arn(role_arn)
    except NotFoundException:
        return f"role {role_arn} does not exist"
    request = iam_policy.Request(
        action="sts:AssumeRole",
        resource=None,
        account=caller.account,
        principal_arn=caller.principal_arn,
        kind=caller.kind,
        org_id=iam_policy.org_of(caller.account),
        external_id=params.get("ExternalId"),
    )
    try:
        admitted = iam_policy.decide(role.assume_role_policy_document, request)
    except iam_policy.Unsupported as exc:
        return f"trust policy form not supported by the emulator (refused): {exc}"
    return None if admitted else "the role's trust policy does not admit the caller"


def access_denied(start_response: Callable[..., Any], caller: Caller, environ: dict[str, Any], body: bytes) -> list[bytes]:
    """AccessDenied in the query protocol's form (HTTP 403, Sender)."""
    role_arn = _params(environ, body).get("RoleArn", "")
    request_id = str(uuid.uuid4())
    message = f"User: {caller.session_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    payload = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>AccessDenied</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    start_response(
        "403 Forbidden",
        [
            ("Content-Type", "text/xml"),
            ("Content-Length", str(len(payload))),
            ("x-amzn-RequestId", request_id),
        ],
    )
    return [payload]


def join_organization(management: str, accounts: list[str]) -> dict[str, Any]:
    """Puts existing account ids into the organisation whose management account is
    ``management`` (created with Organizations CreateOrganization), as an accepted
    InviteAccountToOrganization would. Answers the organisation id."""
    from moto.organizations.models import FakeAccount, organizations_backends

    if not re.fullmatch(r"[0-9]{12}", management) or not all(re.fullmatch(r"[0-9]{12}", a) for a in accounts):
        raise ValueError("account ids are 12 digits")
    backend = organizations_backends[management]["aws"]
    org = backend.org
    if org is None:
        raise KeyError(f"account {management} has no organisation (call CreateOrganization with its credentials)")
    for account in accounts:
        if account == management:
            continue
        owner = organizations_backends.master_accounts.get(account)
        if owner is not None and owner[0] != management:
            raise ValueError(f"account {account} is already in another organisation")
        if any(a.id == account for a in backend.accounts):
            continue
        member = FakeAccount.__new__(FakeAccount)  # no OrganizationAccountAccessRole: invited accounts get none
        member.type = "ACCOUNT"
        member.region = org.region
        member.organization_id = org.id
        member.master_account_id = org.master_account_id
        member.create_account_status_id = f"car-{uuid.uuid4().hex[:8]}"
        member.id = account
        member.name = f"account-{account}"
        member.email = f"{account}@example.com"
        member.create_time = utcnow()
        member.status = "ACTIVE"
        member.state = "ACTIVE"
        member.joined_method = "INVITED"
        member.parent_id = org.root_id
        member.attached_policies = []
        member.tags = {}
        backend.accounts.append(member)
        organizations_backends.master_accounts[account] = (management, "aws")
    return {"OrganizationId": org.id, "Accounts": sorted({management, *accounts})}


def clear_organizations() -> None:
    """moto's reset leaves its member-account index behind (it lives on the BackendDict)."""
    from moto.organizations.models import organizations_backends

    organizations_backends.master_accounts.clear()
