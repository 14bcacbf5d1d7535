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
from typing import Any

from moto.ssoadmin.models import SSOAdminBackend, ssoadmin_backends  # noqa: F401
from moto.ssoadmin.responses import SSOAdminResponse

from config import LOCK
from sagemaker_ext import find_sso_application

try:  # moto's JSON error type
    from moto.core.exceptions import JsonRESTError
except ImportError:  # pragma: no cover
    raise



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
    # Required members, ARN and principal patterns, PrincipalType and MaxResults are
    # checked against the service model before the request gets here (validate.py).
    params = json.loads(self.body or "{}")
    arn = params.get("ApplicationArn")
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
