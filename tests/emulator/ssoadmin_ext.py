"""IAM Identity Center application assignments (sso-admin), which moto 5.2.5 lacks.

Added (JSON 1.1, ``X-Amz-Target: SWBExternalService.<Op>``, signing name ``sso``):
  CreateApplicationAssignment, DescribeApplicationAssignment,
  DeleteApplicationAssignment, ListApplicationAssignments.

An application exists while an AuthMode=SSO SageMaker domain reports it as
``SingleSignOnApplicationArn``; any other ARN gives ResourceNotFoundException.
CreateApplicationAssignment for an existing (application, principal) pair succeeds
without change: the API reference lists ConflictException only for a write racing a
previous one ("did not have time to propagate"), not for duplicates.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from moto.ssoadmin.models import SSOAdminBackend, ssoadmin_backends  # noqa: F401
from moto.ssoadmin.responses import SSOAdminResponse

from config import LOCK
from sagemaker_ext import find_sso_application

try:  # moto's JSON error type
    from moto.core.exceptions import JsonRESTError
except ImportError:  # pragma: no cover
    raise

_APP_ARN_RE = re.compile(r"arn:aws(-[a-z]{1,5}){0,3}:sso::\d{12}:application/(sso)?ins-[a-zA-Z0-9-.]{16}/apl-[a-zA-Z0-9]{16}")
_PRINCIPAL_RE = re.compile(r"([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}")


class SSOError(JsonRESTError):
    code = 400

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(error_type=error_type, message=message)


def _validation(message: str) -> SSOError:
    return SSOError("ValidationException", message)


def _not_found(message: str) -> SSOError:
    return SSOError("ResourceNotFoundException", message)


def _assignments(backend: SSOAdminBackend) -> dict[str, dict[tuple[str, str], dict[str, str]]]:
    store = backend.__dict__.get("_warden_app_assignments")
    if store is None:
        store = {}
        backend.__dict__["_warden_app_assignments"] = store
    return store


def _params(self: SSOAdminResponse, with_principal: bool) -> dict[str, Any]:
    params = json.loads(self.body or "{}")
    errors = []
    arn = params.get("ApplicationArn")
    if arn is None:
        errors.append("Value null at 'applicationArn' failed to satisfy constraint: Member must not be null")
    elif not _APP_ARN_RE.fullmatch(arn):
        errors.append(
            f"Value '{arn}' at 'applicationArn' failed to satisfy constraint: Member must satisfy regular "
            "expression pattern: arn:aws(-[a-z]{1,5}){0,3}:sso::\\d{12}:application/(sso)?ins-[a-zA-Z0-9-.]{16}/apl-[a-zA-Z0-9]{16}"
        )
    if with_principal:
        pid, ptype = params.get("PrincipalId"), params.get("PrincipalType")
        if pid is None:
            errors.append("Value null at 'principalId' failed to satisfy constraint: Member must not be null")
        elif not _PRINCIPAL_RE.fullmatch(pid):
            errors.append(
                f"Value '{pid}' at 'principalId' failed to satisfy constraint: Member must satisfy regular "
                "expression pattern: ([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"
            )
        if ptype not in ("USER", "GROUP"):
            shown = "null" if ptype is None else f"'{ptype}'"
            errors.append(
                f"Value {shown} at 'principalType' failed to satisfy constraint: Member must satisfy enum value set: [USER, GROUP]"
            )
    max_results = params.get("MaxResults")
    if max_results is not None and not 1 <= int(max_results) <= 100:
        errors.append(
            f"Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value "
            "between 1 and 100"
        )
    if errors:
        n = len(errors)
        raise _validation(f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(errors))
    if find_sso_application(self.current_account, arn) is None:
        raise _not_found(f"Application {arn} not found.")
    return params


def create_application_assignment(self: SSOAdminResponse) -> str:
    with LOCK:
        params = _params(self, True)
        store = _assignments(self.ssoadmin_backend).setdefault(params["ApplicationArn"], {})
        store.setdefault(
            (params["PrincipalType"], params["PrincipalId"]),
            {
                "ApplicationArn": params["ApplicationArn"],
                "PrincipalId": params["PrincipalId"],
                "PrincipalType": params["PrincipalType"],
            },
        )
        return "{}"


def describe_application_assignment(self: SSOAdminResponse) -> str:
    with LOCK:
        params = _params(self, True)
        store = _assignments(self.ssoadmin_backend).get(params["ApplicationArn"], {})
        found = store.get((params["PrincipalType"], params["PrincipalId"]))
        if found is None:
            raise _not_found("Application assignment not found.")
        return json.dumps(found)


def delete_application_assignment(self: SSOAdminResponse) -> str:
    with LOCK:
        params = _params(self, True)
        store = _assignments(self.ssoadmin_backend).get(params["ApplicationArn"], {})
        if store.pop((params["PrincipalType"], params["PrincipalId"]), None) is None:
            raise _not_found("Application assignment not found.")
        return "{}"


def list_application_assignments(self: SSOAdminResponse) -> str:
    with LOCK:
        params = _params(self, False)
        items = list(_assignments(self.ssoadmin_backend).get(params["ApplicationArn"], {}).values())
        limit = int(params.get("MaxResults") or 100)
        start = 0
        token = params.get("NextToken")
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode())
            except ValueError as exc:
                raise _validation("Invalid NextToken") from exc
        page = items[start : start + limit]
        result: dict[str, Any] = {"ApplicationAssignments": page}
        if start + limit < len(items):
            result["NextToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        return json.dumps(result)


for _fn in (
    create_application_assignment,
    describe_application_assignment,
    delete_application_assignment,
    list_application_assignments,
):
    setattr(SSOAdminResponse, _fn.__name__, _fn)
