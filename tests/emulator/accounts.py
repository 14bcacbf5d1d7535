"""Which account a request acts in, and as which principal (README: "Accounts and
credentials").

moto 5.2.5 picks the account of a request in ``BaseResponse.get_current_account``:
  1. the ``MOTO_ACCOUNT_ID`` environment variable (every request, whatever its keys);
  2. an ``x-moto-account-id`` request header;
  3. the access key id, if moto issued it (``moto.iam.models.get_account_id_from`` looks it
     up in every account's IAM backend: keys from IAM CreateAccessKey and from STS
     AssumeRole, which files the new key under the *role's* account);
  4. else the default account, 123456789012.

A caller of real AWS cannot choose its account by header or environment, so the emulator
decides every request itself, here, from the SigV4 access key id only:
  * a key moto issued -> the account moto filed it under (3 above);
  * a key that is exactly 12 digits -> that account (the emulator's way to "act as account
    X"; LocalStack's convention too), as the IAM user ``moto`` of that account;
  * any other key -> the default account 123456789012 (moto's 4).
and hands the answer to moto through the header of step 2, overwriting any the client sent.
``MOTO_ACCOUNT_ID`` is removed from the environment at start-up (emulator.py), so step 1
never applies.

The principal matters to STS AssumeRole's trust policy check (iam_policy.py, sts_ext.py):
an IAM user's key -> ``arn:aws:iam::A:user/NAME``; an AssumeRole key -> the role's ARN (a
role session is matched by its role's ARN in trust policies) and the session ARN; any key
moto did not issue -> the user ``moto`` of the account (moto's GetCallerIdentity answers
``arn:aws:sts::A:user/moto`` for such keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
ACCOUNT_KEY = re.compile(r"[0-9]{12}")


@dataclass(frozen=True)
class Caller:
    account: str
    # The ARN trust policies match (a user's ARN, an assumed role's *role* ARN).
    principal_arn: str
    # The ARN GetCallerIdentity would answer (the session ARN for an assumed role).
    session_arn: str
    kind: str  # "user" | "assumed-role"


def access_key_of(environ: dict[str, Any]) -> str | None:
    """The SigV4 access key id of a request (header or presigned query), if any."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group(1)
    query = environ.get("QUERY_STRING", "")
    match = re.search(r"(?:^|&)X-Amz-Credential=([^%&/]+)(?:%2F|/)", query)
    return match.group(1) if match else None


def _issued(access_key: str) -> tuple[str, Any] | None:
    """(account, moto AccessKey) for a key moto issued (IAM user key or STS key)."""
    from moto.iam.models import iam_backends

    for account_id, account in list(iam_backends.items()):
        for partition in list(account.keys()):
            key = account[partition].access_keys.get(access_key)
            if key is not None:
                return account_id, key
    return None


def caller(access_key: str | None) -> Caller:
    """The account and principal a request with this access key id acts as."""
    if access_key:
        issued = _issued(access_key)
        if issued is not None:
            account_id, key = issued
            role_arn = getattr(key, "role_arn", None)
            if role_arn:
                from moto.sts.models import sts_backends

                session = role_arn
                for backend in list(sts_backends[account_id].values()):
                    found = backend.get_assumed_role_from_access_key(access_key)
                    if found is not None:
                        session = found.arn
                        break
                return Caller(account_id, role_arn, session, "assumed-role")
            user = key.user_name or "moto"
            arn = f"arn:aws:iam::{account_id}:user/{user}"
            return Caller(account_id, arn, arn, "user")
        if ACCOUNT_KEY.fullmatch(access_key):
            arn = f"arn:aws:iam::{access_key}:user/moto"
            return Caller(access_key, arn, arn, "user")
    arn = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/moto"
    return Caller(DEFAULT_ACCOUNT_ID, arn, arn, "user")


def settle(environ: dict[str, Any]) -> Caller:
    """Decide the request's caller and tell moto its account (the header moto reads)."""
    who = caller(access_key_of(environ))
    environ["HTTP_X_MOTO_ACCOUNT_ID"] = who.account
    environ["emulator.caller"] = who
    return who
