"""SageMaker Studio operations that moto 5.2.5 lacks, plus fixes to its domain support.

Added (JSON 1.1, ``X-Amz-Target: SageMaker.<Op>``):
  CreateUserProfile, DescribeUserProfile, ListUserProfiles, UpdateUserProfile,
  DeleteUserProfile, CreateApp, DescribeApp, ListApps, DeleteApp, CreateSpace,
  DescribeSpace, ListSpaces, UpdateSpace, DeleteSpace, UpdateDomain.
Changed in moto:
  CreateDomain (realistic ``d-xxxxxxxxxxxx`` ids, DomainId in the response),
  DescribeDomain (ResourceNotFound for unknown ids; SSO application fields only for
  AuthMode=SSO; Updating status after UpdateDomain), DeleteDomain (refused while
  profiles or spaces exist), AddTags/ListTags/DeleteTags (profile, space, app and
  domain ARNs; AddTags overwrites an existing key as AWS documents).

Behaviour (see README.md next to this file for the sources of each rule):
  * Names match ``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`` (full match, <= 63 chars); user
    profile names are case-insensitive ("This value is not case sensitive"), and ARNs
    carry lower-cased names as real ARNs do.
  * Statuses change lazily with the clock: Pending -> InService, Updating -> InService,
    Deleting -> gone (profiles, spaces) and app Pending -> InService,
    Deleting -> Deleted, each after ``status_delay`` seconds.
  * A Deleted app stays visible (DescribeApp / ListApps, Status=Deleted) until an app
    with the same owner, type and name is created again, or its owner is deleted.

All state lives on moto's backend objects, so moto's own reset clears it too.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any, Callable

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.moto_api._internal import mock_random
from moto.sagemaker import models as sm_models
from moto.sagemaker.models import Domain, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

import config
from config import LOCK, SETTINGS, elapsed, now

# ----------------------------------------------------------------------------- errors


class StudioError(ServiceException):
    """Defined here (not in a moto module) so moto serialises it with SageMaker's model."""


def _error(code: str, message: str) -> ServiceException:
    return StudioError(code, message)


def validation(message: str) -> ServiceException:
    return _error("ValidationException", message)


def not_found(message: str) -> ServiceException:
    return _error("ResourceNotFound", message)


def in_use(message: str) -> ServiceException:
    return _error("ResourceInUse", message)


def limit_exceeded(message: str) -> ServiceException:
    return _error("ResourceLimitExceeded", message)




def reserved_tag_keys(body: bytes) -> str | None:
    """Tag keys starting with ``aws:`` are AWS's ("System prefix 'aws:' reserved for AWS usage
    in tag key: ...", a ValidationException SageMaker returned, aws/sagemaker-python-sdk#1301;
    AWS's tagging guide reserves the prefix). Checked for every SageMaker request carrying
    ``Tags`` or ``TagKeys``; the message for a request that breaks it, else None."""
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return None
    if not isinstance(params, dict):
        return None
    keys = [t.get("Key") for t in params.get("Tags") or [] if isinstance(t, dict)]
    keys += list(params.get("TagKeys") or [])
    for key in keys:
        if isinstance(key, str) and key.lower().startswith("aws:"):
            return f"System prefix 'aws:' reserved for AWS usage in tag key: {key}"
    return None


# ----------------------------------------------------------------------------- model

STATUS_BY_PHASE = {
    "creating": "Pending",
    "updating": "Updating",
    "ready": "InService",
    "deleting": "Deleting",
    "deleted": "Deleted",
    # Terminal failures (set through the control endpoint: AWS gives no API to cause them).
    "failed": "Failed",
    "update_failed": "Update_Failed",
    "delete_failed": "Delete_Failed",
}

FAILED_PHASES = {"Failed": "failed", "Update_Failed": "update_failed", "Delete_Failed": "delete_failed"}


TRANSITIONAL = frozenset(("creating", "updating", "deleting"))


class Lifecycle:
    """A lazily advancing status: each transitional phase lasts ``status_delay``."""

    TERMINAL_AFTER_DELETE = "gone"
    # The owning StudioState's index of objects in a transitional phase (set when the object
    # is stored in one of its dicts; None for a domain's lifecycle, which is not swept).
    _moving: dict[int, "Lifecycle"] | None = None

    @property
    def phase(self) -> str:
        return self._phase

    @phase.setter
    def phase(self, value: str) -> None:
        self._phase = value
        if self._moving is not None and value in TRANSITIONAL:
            self._moving[id(self)] = self

    def __init__(self) -> None:
        self.creation_time = utcnow()
        self.last_modified_time = self.creation_time
        self.phase = "creating"
        self.since = now()
        self.since_wall = self.creation_time

    def begin(self, phase: str) -> None:
        self.phase = phase
        self.since = now()
        self.since_wall = utcnow()
        self.last_modified_time = self.since_wall

    def advance(self, after_delete: str) -> None:
        if self.phase in TRANSITIONAL and elapsed(self.since):
            self.phase = "ready" if self.phase != "deleting" else after_delete
            self.last_modified_time = self.since_wall + dt.timedelta(seconds=SETTINGS.status_delay)

    @property
    def status(self) -> str:
        return STATUS_BY_PHASE.get(self.phase, "Deleted")


class Profile(Lifecycle):
    def __init__(self, domain: Domain, name: str, seq: int, uid: int, **kw: Any) -> None:
        super().__init__()
        self.domain_id = domain.id
        self.name = name
        self.seq = seq
        self.arn = _arn(domain, f"user-profile/{domain.id}/{name.lower()}")
        self.home_efs_uid = str(uid)
        self.sso_identifier = kw.get("sso_identifier")
        self.sso_value = kw.get("sso_value")
        self.user_settings = kw.get("user_settings")
        self.tags: list[dict[str, str]] = list(kw.get("tags") or [])

    def describe(self) -> dict[str, Any]:
        return _clean(
            {
                "DomainId": self.domain_id,
                "UserProfileArn": self.arn,
                "UserProfileName": self.name,
                "HomeEfsFileSystemUid": self.home_efs_uid,
                "Status": self.status,
                "LastModifiedTime": self.last_modified_time,
                "CreationTime": self.creation_time,
                "SingleSignOnUserIdentifier": self.sso_identifier,
                "SingleSignOnUserValue": self.sso_value,
                "UserSettings": self.user_settings,
            }
        )

    def summary(self) -> dict[str, Any]:
        return {
            "DomainId": self.domain_id,
            "UserProfileName": self.name,
            "Status": self.status,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        }


class Space(Lifecycle):
    def __init__(self, domain: Domain, name: str, seq: int, uid: int, **kw: Any) -> None:
        super().__init__()
        self.domain_id = domain.id
        self.name = name
        self.seq = seq
        self.arn = _arn(domain, f"space/{domain.id}/{name.lower()}")
        self.home_efs_uid = str(uid)
        self.space_settings = kw.get("space_settings")
        self.ownership = kw.get("ownership")
        self.sharing = kw.get("sharing")
        self.display_name = kw.get("display_name")
        self.tags: list[dict[str, str]] = list(kw.get("tags") or [])
        self.url = f"https://{domain.id}.studio.{domain.region_name}.sagemaker.aws/{name.lower()}"

    @property
    def owner(self) -> str | None:
        return (self.ownership or {}).get("OwnerUserProfileName")

    @property
    def sharing_type(self) -> str | None:
        return (self.sharing or {}).get("SharingType")

    def describe(self) -> dict[str, Any]:
        return _clean(
            {
                "DomainId": self.domain_id,
                "SpaceArn": self.arn,
                "SpaceName": self.name,
                "HomeEfsFileSystemUid": self.home_efs_uid,
                "Status": self.status,
                "LastModifiedTime": self.last_modified_time,
                "CreationTime": self.creation_time,
                "SpaceSettings": self.space_settings,
                "OwnershipSettings": self.ownership,
                "SpaceSharingSettings": self.sharing,
                "SpaceDisplayName": self.display_name,
                "Url": self.url,
            }
        )

    def summary(self) -> dict[str, Any]:
        settings = self.space_settings or {}
        settings_summary = _clean(
            {
                "AppType": settings.get("AppType"),
                "RemoteAccess": settings.get("RemoteAccess"),
                "SpaceStorageSettings": settings.get("SpaceStorageSettings"),
            }
        )
        return _clean(
            {
                "DomainId": self.domain_id,
                "SpaceName": self.name,
                "Status": self.status,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
                "SpaceSettingsSummary": settings_summary or None,
                "SpaceSharingSettingsSummary": {"SharingType": self.sharing_type} if self.sharing else None,
                "OwnershipSettingsSummary": {"OwnerUserProfileName": self.owner} if self.ownership else None,
                "SpaceDisplayName": self.display_name,
            }
        )


class App(Lifecycle):
    def __init__(self, domain: Domain, owner_kind: str, owner: str, app_type: str, name: str, seq: int, **kw: Any) -> None:
        super().__init__()
        self.domain_id = domain.id
        self.owner_kind = owner_kind  # "profile" | "space"
        self.owner = owner
        self.app_type = app_type
        self.name = name
        self.seq = seq
        self.arn = _arn(domain, f"app/{domain.id}/{owner.lower()}/{app_type.lower()}/{name.lower()}")
        self.resource_spec = kw.get("resource_spec")
        self.tags: list[dict[str, str]] = list(kw.get("tags") or [])
        self.failure_reason: str | None = None

    def describe(self) -> dict[str, Any]:
        data = self.summary()
        data["AppArn"] = self.arn
        if self.status == "Failed" and self.failure_reason:
            data["FailureReason"] = self.failure_reason
        if self.status == "InService":
            data["LastHealthCheckTimestamp"] = utcnow()
            data["LastUserActivityTimestamp"] = self.last_modified_time
        return data

    def summary(self) -> dict[str, Any]:
        return _clean(
            {
                "DomainId": self.domain_id,
                "UserProfileName": self.owner if self.owner_kind == "profile" else None,
                "SpaceName": self.owner if self.owner_kind == "space" else None,
                "AppType": self.app_type,
                "AppName": self.name,
                "Status": self.status,
                "CreationTime": self.creation_time,
                "ResourceSpec": self.resource_spec,
            }
        )


class _Tracked(dict):  # type: ignore[type-arg]
    """One of StudioState's dicts of profiles, spaces or apps, keeping two indexes as items
    are stored and removed: the state's objects in a transitional phase (``moving``: only
    they can change with the clock, so a sweep looks at them alone instead of at every
    object), and the number of objects per domain (the profile quota). Only item assignment
    and ``del`` change it; the other dict mutators are refused, so no path can bypass the
    indexes."""

    def __init__(self, moving: dict[int, Lifecycle]) -> None:
        super().__init__()
        self.moving = moving
        self.per_domain: dict[str, int] = {}

    def __setitem__(self, key: Any, obj: Any) -> None:
        old = self.get(key)
        if old is not None:
            self._forget(old)
        super().__setitem__(key, obj)
        self.per_domain[obj.domain_id] = self.per_domain.get(obj.domain_id, 0) + 1
        obj._moving = self.moving
        if obj.phase in TRANSITIONAL:
            self.moving[id(obj)] = obj

    def __delitem__(self, key: Any) -> None:
        self._forget(self[key])
        super().__delitem__(key)

    def _forget(self, obj: Any) -> None:
        self.per_domain[obj.domain_id] -= 1
        if self.per_domain[obj.domain_id] == 0:
            del self.per_domain[obj.domain_id]
        obj._moving = None
        self.moving.pop(id(obj), None)

    def count(self, domain_id: str) -> int:
        return self.per_domain.get(domain_id, 0)

    def _refused(self, *_args: Any, **_kwargs: Any) -> Any:
        raise TypeError("use item assignment or del: they keep the indexes")

    pop = popitem = setdefault = update = clear = __ior__ = _refused  # type: ignore[assignment]


class StudioState:
    def __init__(self) -> None:
        # Objects in a transitional phase (Pending, Updating, Deleting), by id: the only ones
        # a sweep can change.
        self.moving: dict[int, Lifecycle] = {}
        self.profiles: _Tracked = _Tracked(self.moving)
        self.spaces: _Tracked = _Tracked(self.moving)
        self.apps: _Tracked = _Tracked(self.moving)
        self.seq = 0
        self.uids: dict[str, int] = {}

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def next_uid(self, domain_id: str) -> int:
        self.uids[domain_id] = self.uids.get(domain_id, 200000) + 1
        return self.uids[domain_id]

    def sweep(self) -> None:
        """Advance every status and drop what finished deleting. Only objects in a
        transitional phase can change, so only they are looked at (profiles, then spaces,
        then apps, in the order they were stored)."""
        if not self.moving:
            return
        moving = list(self.moving.values())
        for profile in moving:
            if isinstance(profile, Profile):
                profile.advance("gone")
                if profile.phase == "gone":
                    del self.profiles[(profile.domain_id, profile.name.lower())]
                    self._drop_apps(profile.domain_id, "profile", profile.name)
        for space in moving:
            if isinstance(space, Space):
                space.advance("gone")
                if space.phase == "gone":
                    del self.spaces[(space.domain_id, space.name.lower())]
                    self._drop_apps(space.domain_id, "space", space.name)
        for app in moving:
            if isinstance(app, App) and app._moving is not None:
                app.advance("deleted")
        for obj in moving:
            if obj.phase not in TRANSITIONAL:
                self.moving.pop(id(obj), None)

    def _drop_apps(self, domain_id: str, kind: str, owner: str) -> None:
        for key in [k for k in self.apps if k[:3] == (domain_id, kind, owner.lower())]:
            del self.apps[key]

    def live_apps(self, domain_id: str, kind: str, owner: str) -> list[App]:
        return [
            app
            for key, app in self.apps.items()
            if key[:3] == (domain_id, kind, owner.lower()) and app.status not in ("Deleted", "Failed")
        ]


def _state(backend: SageMakerModelBackend) -> StudioState:
    state = backend.__dict__.get("_warden_studio")
    if state is None:
        state = StudioState()
        backend.__dict__["_warden_studio"] = state
    return state


def _arn(domain: Domain, resource: str) -> str:
    return f"arn:aws:sagemaker:{domain.region_name}:{domain.account_id}:{resource}"


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _merge_tags(*lists: list[dict[str, str]] | None) -> list[dict[str, str]]:
    merged: dict[str, str] = {}
    for tags in lists:
        for tag in tags or []:
            merged[tag["Key"]] = tag.get("Value", "")
    return [{"Key": k, "Value": v} for k, v in merged.items()]


# ----------------------------------------------------------------------------- paging


def _page(
    items: list[Any],
    sort_key: Callable[[Any], Any],
    descending: bool,
    max_results: int | None,
    next_token: str | None,
    query: Any,
) -> tuple[list[Any], str | None]:
    """Cursor pagination: the token holds the sort key of the last item returned, so a
    deletion between two pages neither skips nor repeats an item."""
    digest = hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]
    ordered = sorted(items, key=sort_key, reverse=descending)
    if next_token:
        try:
            token = json.loads(base64.urlsafe_b64decode(next_token.encode()).decode())
            if token["q"] != digest:
                raise ValueError("token belongs to another query")
            after = tuple(token["after"])
        except (ValueError, KeyError, TypeError) as exc:
            raise validation(f"Invalid pagination token: {next_token}") from exc
        if descending:
            ordered = [i for i in ordered if _jsonable(sort_key(i)) < after]
        else:
            ordered = [i for i in ordered if _jsonable(sort_key(i)) > after]
    limit = max_results or 10
    page = ordered[:limit]
    token_out = None
    if len(ordered) > limit:
        token = {"q": digest, "after": list(_jsonable(sort_key(page[-1])))}
        token_out = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
    return page, token_out


def _jsonable(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(v.timestamp() if isinstance(v, dt.datetime) else v for v in key)


# ----------------------------------------------------------------------------- domains

_original_domain_init = Domain.__init__
_original_domain_describe = Domain.describe


def _domain_init(self: Domain, *args: Any, **kwargs: Any) -> None:
    _original_domain_init(self, *args, **kwargs)
    # Real domain ids look like d-xxxxxxxxxxxx (12 lower-case alphanumerics).
    self.id = f"d-{mock_random.get_random_string(length=12, lower_case=True)}"
    self.arn = sm_models.arn_formatter("domain", self.id, self.account_id, self.region_name)
    self.home_efs_file_system_id = f"fs-{mock_random.get_random_hex(17)}"
    self.url = f"https://{self.id}.studio.{self.region_name}.sagemaker.aws"
    self.security_group_id_for_domain_boundary = f"sg-{mock_random.get_random_hex(17)}"
    self.tags = list(self.tags or [])
    self.warden_lifecycle = Lifecycle()
    self.warden_lifecycle.phase = "ready"
    self.warden_extra: dict[str, Any] = {}
    if self.auth_mode == "SSO":
        instance = _sso_instance_id(self.account_id, self.region_name)
        suffix = hashlib.sha256(f"{self.account_id}:{self.id}".encode()).hexdigest()[:16]
        self.single_sign_on_managed_application_instance_id = instance
        self.single_sign_on_managed_application_arn = (
            f"arn:aws:sso::{self.account_id}:application/{instance}/apl-{suffix}"
        )
    else:
        self.single_sign_on_managed_application_instance_id = None
        self.single_sign_on_managed_application_arn = None


def _sso_instance_id(account_id: str, region: str) -> str:
    """The account's Identity Center instance (moto's ssoadmin instance), e.g.
    ``ssoins-1234567890abcdef``."""
    try:
        from moto.ssoadmin.models import ssoadmin_backends

        arn = ssoadmin_backends[account_id][region].instances[0].instance_arn
        return arn.rsplit("/", 1)[1]
    except Exception:  # pragma: no cover - defensive: fall back to a stable id
        return "ssoins-" + hashlib.sha256(account_id.encode()).hexdigest()[:16]


def _domain_describe(self: Domain) -> dict[str, Any]:
    data = _original_domain_describe(self)
    life: Lifecycle = self.warden_lifecycle
    life.advance("gone")
    data["Status"] = life.status
    data["LastModifiedTime"] = life.last_modified_time
    data.update(self.warden_extra)
    if getattr(self, "warden_legacy_sso", False):
        # Domains created before October 1, 2023 do not return it (DescribeDomainResponse
        # in the service model).
        data.pop("SingleSignOnApplicationArn", None)
    if not data.get("FailureReason"):
        data.pop("FailureReason", None)
    return _clean(data)


Domain.__init__ = _domain_init  # type: ignore[method-assign]
Domain.describe = _domain_describe  # type: ignore[method-assign]


def find_sso_application(account_id: str, application_arn: str) -> Domain | None:
    """The SSO-mode domain whose managed Identity Center application has this ARN."""
    for _region, backend in sagemaker_backends[account_id].items():
        for domain in backend.domains.values():
            if domain.single_sign_on_managed_application_arn == application_arn:
                return domain
    return None


def _domain_not_found(domain_id: str) -> ServiceException:
    # Same text as moto's DescribeDomain, with AWS's modelled ResourceNotFound code.
    return not_found(f"Could not find domain '{domain_id}'.")


def _domain(backend: SageMakerModelBackend, domain_id: str) -> Domain:
    domain = backend.domains.get(domain_id)
    if domain is None:
        raise _domain_not_found(domain_id)
    return domain


_original_create_domain = SageMakerModelBackend.create_domain


def _create_domain(self: SageMakerModelBackend, **kwargs: Any) -> dict[str, Any]:
    with LOCK:
        result = _original_create_domain(self, **kwargs)
        domain = next(d for d in self.domains.values() if d.arn == result["DomainArn"])
        result["DomainId"] = domain.id
        return result


def _describe_domain(self: SageMakerModelBackend, domain_id: str) -> dict[str, Any]:
    with LOCK:
        return _domain(self, domain_id).describe()


def _delete_domain(self: SageMakerModelBackend, domain_id: str, retention_policy: Any) -> None:
    with LOCK:
        domain = _domain(self, domain_id)
        state = _state(self)
        state.sweep()
        if state.profiles.count(domain_id):
            raise in_use(f"Unable to delete Domain [{domain.arn}] because UserProfile(s) are associated with it.")
        if state.spaces.count(domain_id):
            raise in_use(f"Unable to delete Domain [{domain.arn}] because Space(s) are associated with it.")
        del self.domains[domain_id]


SageMakerModelBackend.create_domain = _create_domain  # type: ignore[method-assign]
SageMakerModelBackend.describe_domain = _describe_domain  # type: ignore[method-assign]
SageMakerModelBackend.delete_domain = _delete_domain  # type: ignore[method-assign]

_DOMAIN_SETTINGS_FOR_UPDATE = {
    "RStudioServerProDomainSettingsForUpdate": "RStudioServerProDomainSettings",
    "ExecutionRoleIdentityConfig": "ExecutionRoleIdentityConfig",
    "SecurityGroupIds": "SecurityGroupIds",
    "TrustedIdentityPropagationSettings": "TrustedIdentityPropagationSettings",
    "DockerSettings": "DockerSettings",
    "AmazonQSettings": "AmazonQSettings",
    "UnifiedStudioSettings": "UnifiedStudioSettings",
    "IpAddressType": "IpAddressType",
}


def update_domain(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    backend = self.sagemaker_backend
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        running = [
            a for a in state.apps.values() if a.domain_id == domain.id and a.status in ("InService", "Pending", "Deleting")
        ]
        new_access = p("AppNetworkAccessType")
        new_subnets = p("SubnetIds")
        removing_subnets = new_subnets is not None and not set(domain.subnet_ids or []) <= set(new_subnets)
        if running and ((new_access and new_access != domain.app_network_access_type) or removing_subnets):
            # The API reference: "This configuration can only be modified if there are no
            # apps in the InService, Pending, or Deleting state" (AppNetworkAccessType) and
            # "If removing subnets, ensure there are no apps in the InService, Pending, or
            # Deleting state" (SubnetIds). The error code is not documented; ResourceInUse
            # is the modelled UpdateDomain error that fits.
            raise in_use(
                f"Unable to update Domain [{domain.arn}]: AppNetworkAccessType and subnets can only be changed "
                "when there are no apps in the InService, Pending, or Deleting state."
            )
        if new_access:
            domain.app_network_access_type = new_access
        if new_subnets is not None:
            domain.subnet_ids = new_subnets
        if p("VpcId"):
            domain.vpc_id = p("VpcId")
        if p("DefaultUserSettings") is not None:
            domain.default_user_settings = {**(domain.default_user_settings or {}), **p("DefaultUserSettings")}
        if p("DefaultSpaceSettings") is not None:
            domain.default_space_settings = {**(domain.default_space_settings or {}), **p("DefaultSpaceSettings")}
        if p("AppSecurityGroupManagement"):
            domain.app_security_group_management = p("AppSecurityGroupManagement")
        for member in ("TagPropagation", "HomeEfsFileSystemCreation"):
            if p(member) is not None:
                domain.warden_extra[member] = p(member)
        for_update = p("DomainSettingsForUpdate") or {}
        if for_update:
            settings = dict(domain.domain_settings or {})
            for src, dst in _DOMAIN_SETTINGS_FOR_UPDATE.items():
                if src in for_update:
                    settings[dst] = for_update[src]
            domain.domain_settings = settings
        domain.warden_lifecycle.begin("updating")
        return ActionResult({"DomainArn": domain.arn})


# ----------------------------------------------------------------------------- profiles


def _profile(state: StudioState, domain: Domain, name: str) -> Profile:
    profile = state.profiles.get((domain.id, name.lower()))
    if profile is None:
        arn = _arn(domain, f"user-profile/{domain.id}/{name.lower()}")
        raise not_found(f"User profile [{arn}] does not exist.")
    return profile


def _identity_center_user_exists(user_name: str) -> bool:
    """Whether the Identity Center instance's directory has the user. The instance lives in
    ``config.SETTINGS.identity_center_account`` whatever the domain's account, as an
    organisation's member accounts use its instance."""
    from moto.identitystore.models import identitystore_backends

    for _region, backend in identitystore_backends[SETTINGS.identity_center_account].items():
        for store in backend.identity_stores.values():
            if any(u.UserName == user_name for u in store.users.values()):
                return True
    return False


def create_user_profile(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    backend = self.sagemaker_backend
    name: str = p("UserProfileName")
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        sso_id, sso_value = p("SingleSignOnUserIdentifier"), p("SingleSignOnUserValue")
        if domain.auth_mode == "SSO":
            if not sso_id or not sso_value:
                raise validation(
                    "SingleSignOnUserIdentifier and SingleSignOnUserValue are required when the Domain's AuthMode is SSO."
                )
            if not _identity_center_user_exists(sso_value):
                raise validation(f"SingleSignOnUserValue [{sso_value}] is not a valid user in the IAM Identity Center directory.")
        elif sso_id or sso_value:
            raise validation(
                "SingleSignOnUserIdentifier and SingleSignOnUserValue cannot be specified when the Domain's AuthMode is IAM."
            )
        if (domain.id, name.lower()) in state.profiles:
            raise in_use(f"Resource Already Exists: UserProfile with name {name} already exists. Choose a different name.")
        current = state.profiles.count(domain.id)
        if current >= SETTINGS.profile_quota:
            raise limit_exceeded(
                f"The account-level service limit 'Maximum number of user profiles per domain' is "
                f"{SETTINGS.profile_quota} UserProfiles, with current utilization of {current} UserProfiles "
                "and a request delta of 1 UserProfiles. Please use AWS Service Quotas to request an increase "
                "for this quota."
            )
        profile = Profile(
            domain,
            name,
            state.next_seq(),
            state.next_uid(domain.id),
            sso_identifier=sso_id,
            sso_value=sso_value,
            user_settings=p("UserSettings"),
            tags=_merge_tags(p("Tags")),
        )
        state.profiles[(domain.id, name.lower())] = profile
        return ActionResult({"UserProfileArn": profile.arn})


def describe_user_profile(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    backend = self.sagemaker_backend
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        return ActionResult(_profile(state, domain, p("UserProfileName")).describe())


def _sorting(self: SageMakerResponse, sort_keys: list[str]) -> tuple[str, bool, int | None]:
    p = self._get_param
    return p("SortBy") or "CreationTime", p("SortOrder") == "Descending", p("MaxResults")


def _sort_key(field: str) -> Callable[[Any], tuple[Any, ...]]:
    if field == "LastModifiedTime":
        return lambda item: (item.last_modified_time, item.seq)
    return lambda item: (item.creation_time, item.seq)


def list_user_profiles(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    sort_by, descending, max_results = _sorting(self, ["CreationTime", "LastModifiedTime"])
    backend = self.sagemaker_backend
    with LOCK:
        state = _state(backend)
        state.sweep()
        domain_id, contains = p("DomainIdEquals"), p("UserProfileNameContains")
        items = [
            pr
            for pr in state.profiles.values()
            if (domain_id is None or pr.domain_id == domain_id)
            and (contains is None or contains.lower() in pr.name.lower())
        ]
        query = [domain_id, contains, sort_by, descending]
        page, token = _page(items, _sort_key(sort_by), descending, max_results, p("NextToken"), query)
        return ActionResult(_clean({"UserProfiles": [pr.summary() for pr in page], "NextToken": token}))


def update_user_profile(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    backend = self.sagemaker_backend
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        profile = _profile(state, domain, p("UserProfileName"))
        if profile.phase == "deleting":
            raise in_use(f"UserProfile [{profile.arn}] is being deleted.")
        # AWS documents that an update can fail while the profile's JupyterServer app runs,
        # but neither when nor with which error: unknown in AWS, so the documented thing
        # (the update) happens.
        update = p("UserSettings")
        if update is not None:
            # Top-level members present in the request replace the stored ones; the rest
            # are kept.
            profile.user_settings = {**(profile.user_settings or {}), **update}
        profile.begin("updating")
        return ActionResult({"UserProfileArn": profile.arn})


def delete_user_profile(self: SageMakerResponse) -> EmptyResult:
    p = self._get_param
    backend = self.sagemaker_backend
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        profile = _profile(state, domain, p("UserProfileName"))
        if profile.phase == "deleting":
            raise in_use(f"UserProfile [{profile.arn}] is already being deleted.")
        if state.live_apps(domain.id, "profile", profile.name):
            # Message as reported by AWS users (aws/amazon-sagemaker-feedback#113).
            raise in_use(f"Unable to delete UserProfile [{profile.arn}] because App(s) are associated with it.")
        # "All apps launched by a user profile and all spaces owned by the user profile must
        # be deleted to delete the user profile" (developer guide): private and shared alike.
        owned = [
            s for s in state.spaces.values() if s.domain_id == domain.id and (s.owner or "").lower() == profile.name.lower()
        ]
        if owned:
            raise in_use(f"Unable to delete UserProfile [{profile.arn}] because Space(s) are associated with it.")
        profile.begin("deleting")
        return EmptyResult()


# ----------------------------------------------------------------------------- spaces


def _space(state: StudioState, domain: Domain, name: str) -> Space:
    space = state.spaces.get((domain.id, name.lower()))
    if space is None:
        arn = _arn(domain, f"space/{domain.id}/{name.lower()}")
        raise not_found(f"Space [{arn}] does not exist.")
    return space


def create_space(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    ownership = p("OwnershipSettings")
    sharing = p("SpaceSharingSettings")
    if sharing is not None and ownership is None:
        raise validation("OwnershipSettings must be specified when SpaceSharingSettings is specified.")
    backend = self.sagemaker_backend
    name: str = p("SpaceName")
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        if (domain.id, name.lower()) in state.spaces:
            raise in_use(f"Resource Already Exists: Space with name {name} already exists. Choose a different name.")
        if ownership is not None:
            owner = _profile(state, domain, ownership["OwnerUserProfileName"])
            if owner.phase == "deleting":
                raise in_use(f"UserProfile [{owner.arn}] is being deleted.")
        space = Space(
            domain,
            name,
            state.next_seq(),
            state.next_uid(domain.id),
            space_settings=p("SpaceSettings"),
            ownership=ownership,
            sharing=sharing,
            display_name=p("SpaceDisplayName"),
            tags=_merge_tags(p("Tags")),
        )
        state.spaces[(domain.id, name.lower())] = space
        return ActionResult({"SpaceArn": space.arn})


def describe_space(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    backend = self.sagemaker_backend
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        return ActionResult(_space(state, domain, p("SpaceName")).describe())


def list_spaces(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    sort_by, descending, max_results = _sorting(self, ["CreationTime", "LastModifiedTime"])
    backend = self.sagemaker_backend
    with LOCK:
        state = _state(backend)
        state.sweep()
        domain_id, contains = p("DomainIdEquals"), p("SpaceNameContains")
        items = [
            s
            for s in state.spaces.values()
            if (domain_id is None or s.domain_id == domain_id) and (contains is None or contains.lower() in s.name.lower())
        ]
        query = [domain_id, contains, sort_by, descending]
        page, token = _page(items, _sort_key(sort_by), descending, max_results, p("NextToken"), query)
        return ActionResult(_clean({"Spaces": [s.summary() for s in page], "NextToken": token}))


def update_space(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    backend = self.sagemaker_backend
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        space = _space(state, domain, p("SpaceName"))
        if space.phase == "deleting":
            raise in_use(f"Space [{space.arn}] is being deleted.")
        if p("SpaceSettings") is not None:
            space.space_settings = {**(space.space_settings or {}), **p("SpaceSettings")}
        if p("SpaceDisplayName") is not None:
            space.display_name = p("SpaceDisplayName")
        space.begin("updating")
        return ActionResult({"SpaceArn": space.arn})


def delete_space(self: SageMakerResponse) -> EmptyResult:
    p = self._get_param
    backend = self.sagemaker_backend
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        space = _space(state, domain, p("SpaceName"))
        if space.phase == "deleting":
            raise in_use(f"Space [{space.arn}] is already being deleted.")
        if state.live_apps(domain.id, "space", space.name):
            raise in_use(f"Unable to delete Space [{space.arn}] because App(s) are associated with it.")
        space.begin("deleting")
        return EmptyResult()


# ----------------------------------------------------------------------------- apps


def _app_owner(self: SageMakerResponse, operation: str) -> tuple[str, str]:
    profile, space = self._get_param("UserProfileName"), self._get_param("SpaceName")
    if (profile is None) == (space is None):
        # AWS: "Either UserProfileName or SpaceName must be passed for DescribeApp
        # operation." (ValidationException).
        raise validation(f"Either UserProfileName or SpaceName must be passed for {operation} operation.")
    return ("profile", profile) if profile is not None else ("space", space)


def _app_checks(self: SageMakerResponse, operation: str) -> tuple[str, str]:
    return _app_owner(self, operation)


def _app_key(domain_id: str, kind: str, owner: str, app_type: str, name: str) -> tuple[str, str, str, str, str]:
    return (domain_id, kind, owner.lower(), app_type, name.lower())


def _app(state: StudioState, domain: Domain, kind: str, owner: str, app_type: str, name: str) -> App:
    app = state.apps.get(_app_key(domain.id, kind, owner, app_type, name))
    if app is None:
        arn = _arn(domain, f"app/{domain.id}/{owner.lower()}/{app_type.lower()}/{name.lower()}")
        raise not_found(f"App [{arn}] does not exist.")
    return app


def _default_resource_spec(domain: Domain, profile: Profile | None, space: Space | None, app_type: str) -> dict[str, Any]:
    member = f"{app_type}AppSettings"
    for settings in (
        (space.space_settings if space else None),
        (profile.user_settings if profile else None),
        domain.default_user_settings,
    ):
        spec = ((settings or {}).get(member) or {}).get("DefaultResourceSpec")
        if spec:
            return dict(spec)
    return {"InstanceType": "system"} if app_type == "JupyterServer" else {"InstanceType": "ml.t3.medium"}


def create_app(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    kind, owner_name = _app_checks(self, "CreateApp")
    backend = self.sagemaker_backend
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        profile = space = None
        if kind == "profile":
            profile = _profile(state, domain, owner_name)
            owner = profile
        else:
            space = _space(state, domain, owner_name)
            owner = space
        if owner.phase == "deleting":
            raise in_use(f"Unable to create App: [{owner.arn}] is being deleted.")
        key = _app_key(domain.id, kind, owner.name, p("AppType"), p("AppName"))
        existing = state.apps.get(key)
        if existing is not None and existing.status not in ("Deleted", "Failed"):
            raise in_use(
                f"Resource Already Exists: App with name {p('AppName')} already exists. Choose a different name."
            )
        # Tags of the domain and of the user profile are added to the apps it launches
        # (AddTags API reference).
        tags = _merge_tags(domain.tags, profile.tags if profile else None, p("Tags"))
        app = App(
            domain,
            kind,
            owner.name,
            p("AppType"),
            p("AppName"),
            state.next_seq(),
            resource_spec=p("ResourceSpec") or _default_resource_spec(domain, profile, space, p("AppType")),
            tags=tags,
        )
        state.apps[key] = app
        return ActionResult({"AppArn": app.arn})


def describe_app(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    kind, owner = _app_checks(self, "DescribeApp")
    backend = self.sagemaker_backend
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        return ActionResult(_app(state, domain, kind, owner, p("AppType"), p("AppName")).describe())


def list_apps(self: SageMakerResponse) -> ActionResult:
    p = self._get_param
    _, descending, max_results = _sorting(self, ["CreationTime"])
    if p("UserProfileNameEquals") is not None and p("SpaceNameEquals") is not None:
        raise validation("SpaceNameEquals cannot be set when UserProfileNameEquals is set.")
    backend = self.sagemaker_backend
    with LOCK:
        state = _state(backend)
        state.sweep()
        domain_id, profile, space = p("DomainIdEquals"), p("UserProfileNameEquals"), p("SpaceNameEquals")
        items = [
            a
            for a in state.apps.values()
            if (domain_id is None or a.domain_id == domain_id)
            and (profile is None or (a.owner_kind == "profile" and a.owner.lower() == profile.lower()))
            and (space is None or (a.owner_kind == "space" and a.owner.lower() == space.lower()))
        ]
        query = [domain_id, profile, space, descending]
        page, token = _page(items, _sort_key("CreationTime"), descending, max_results, p("NextToken"), query)
        return ActionResult(_clean({"Apps": [a.summary() for a in page], "NextToken": token}))


def delete_app(self: SageMakerResponse) -> EmptyResult:
    p = self._get_param
    kind, owner = _app_checks(self, "DeleteApp")
    backend = self.sagemaker_backend
    with LOCK:
        domain = _domain(backend, p("DomainId"))
        state = _state(backend)
        state.sweep()
        app = _app(state, domain, kind, owner, p("AppType"), p("AppName"))
        if app.status == "Deleted":
            # Terraform's provider matches ValidationException "has already been deleted".
            raise validation(f"App [{app.arn}] has already been deleted.")
        if app.status == "Failed":
            # A failed app is deleted by SageMaker itself; DeleteApp on it is a
            # ValidationException "... previously failed and was automatically deleted".
            raise validation(f"App [{app.arn}] previously failed and was automatically deleted.")
        if app.status == "Deleting":
            raise in_use(f"App [{app.arn}] is already being deleted.")
        app.begin("deleting")
        return EmptyResult()


# ----------------------------------------------------------------------------- tags

_TAGGABLE = ("user-profile", "space", "app", "domain")
_original_add_tags = SageMakerResponse.add_tags
_original_list_tags = SageMakerResponse.list_tags
_original_delete_tags = SageMakerResponse.delete_tags


def _tagged(backend: SageMakerModelBackend, arn: str) -> Any | None:
    """The profile/space/app/domain an ARN names; None when the ARN is another type."""
    try:
        resource = arn.split(":", 5)[5]
    except IndexError:
        return None
    kind, _, rest = resource.partition("/")
    if kind not in _TAGGABLE:
        return None
    state = _state(backend)
    state.sweep()
    parts = rest.lower().split("/")
    found: Any = None
    if kind == "domain":
        found = backend.domains.get(rest)
    elif kind == "user-profile" and len(parts) == 2:
        found = state.profiles.get((parts[0], parts[1]))
    elif kind == "space" and len(parts) == 2:
        found = state.spaces.get((parts[0], parts[1]))
    elif kind == "app" and len(parts) == 4:
        found = next((a for a in state.apps.values() if a.arn.lower() == arn.lower()), None)
        if found is not None and found.status in ("Deleted", "Failed"):
            # ListTags and AddTags on a Deleted app answer ValidationException
            # (aws/amazon-sagemaker-feedback#108); a Failed app was deleted by SageMaker.
            found = None
    if found is None:
        # moto's wording for unknown tag targets.
        raise validation(f"Could not find {kind} with name {rest}")
    if getattr(found, "tags", None) is None:
        found.tags = []
    return found


def add_tags(self: SageMakerResponse) -> ActionResult:
    with LOCK:
        resource = _tagged(self.sagemaker_backend, self._get_param("ResourceArn") or "")
        if resource is None:
            return _original_add_tags(self)
        merged = _merge_tags(resource.tags, self._get_param("Tags"))
        # At most 50 user tags per resource (doc: AWS tagging quotas); a request that would
        # exceed them is refused whole, nothing applied (the code, ValidationException, is
        # unknown in AWS, chosen here).
        if len(merged) > 50:
            raise validation("Resource can have at most 50 tags.")
        resource.tags = merged
        return ActionResult({"Tags": resource.tags})


def list_tags(self: SageMakerResponse) -> ActionResult:
    with LOCK:
        resource = _tagged(self.sagemaker_backend, self._get_param("ResourceArn") or "")
        if resource is None:
            return _original_list_tags(self)
        return ActionResult({"Tags": list(resource.tags)})


def delete_tags(self: SageMakerResponse) -> EmptyResult:
    with LOCK:
        resource = _tagged(self.sagemaker_backend, self._get_param("ResourceArn") or "")
        if resource is None:
            return _original_delete_tags(self)
        keys = set(self._get_param("TagKeys") or [])
        resource.tags = [t for t in resource.tags if t["Key"] not in keys]
        return EmptyResult()


# ----------------------------------------------------------------------------- install

_OPERATIONS = {
    "create_user_profile": create_user_profile,
    "describe_user_profile": describe_user_profile,
    "list_user_profiles": list_user_profiles,
    "update_user_profile": update_user_profile,
    "delete_user_profile": delete_user_profile,
    "create_space": create_space,
    "describe_space": describe_space,
    "list_spaces": list_spaces,
    "update_space": update_space,
    "delete_space": delete_space,
    "create_app": create_app,
    "describe_app": describe_app,
    "list_apps": list_apps,
    "delete_app": delete_app,
    "update_domain": update_domain,
    "add_tags": add_tags,
    "list_tags": list_tags,
    "delete_tags": delete_tags,
}

for _name, _fn in _OPERATIONS.items():
    setattr(SageMakerResponse, _name, _fn)

__all__ = ["find_sso_application", "config"]


# ----------------------------------------------------------------------------- control


def set_profile_status(account_id: str, region: str, domain_id: str, name: str, status: str) -> None:
    """Puts a profile in a terminal failure status (Failed, Update_Failed, Delete_Failed) or
    back in service (InService): AWS reaches these statuses on its own (a failed EFS mount, a
    failed update), and no API can cause them, so tests set them here."""
    phases = {**FAILED_PHASES, "InService": "ready"}
    if status not in phases:
        raise ValueError(f"Status must be one of {', '.join(phases)}, not {status!r}")
    backend = sagemaker_backends[account_id][region]
    with LOCK:
        domain = backend.domains.get(domain_id)
        if domain is None:
            raise KeyError(f"no domain {domain_id}")
        profile = _state(backend).profiles.get((domain_id, name.lower()))
        if profile is None:
            raise KeyError(f"no user profile {name} in {domain_id}")
        profile.begin(phases[status])


def seed_profiles(account_id: str, region: str, domain_id: str, profiles: list[dict[str, Any]]) -> int:
    """Bulk set-up for benchmarks: puts profiles straight into a domain, already InService,
    without one CreateUserProfile each (whose per-domain quota count is linear in the profiles
    there, so creating 50,000 one by one is quadratic). Each entry: {Name, Tags, UserSettings}."""
    backend = sagemaker_backends[account_id][region]
    with LOCK:
        domain = backend.domains.get(domain_id)
        if domain is None:
            raise KeyError(f"no domain {domain_id}")
        state = _state(backend)
        for entry in profiles:
            name = str(entry.get("Name", ""))
            if not name or (domain.id, name.lower()) in state.profiles:
                raise ValueError(f"profile name {name!r} is empty or taken")
            profile = Profile(
                domain,
                name,
                state.next_seq(),
                state.next_uid(domain.id),
                user_settings=entry.get("UserSettings"),
                tags=_merge_tags(entry.get("Tags")),
            )
            profile.phase = "ready"
            state.profiles[(domain.id, name.lower())] = profile
        return len(profiles)


def set_app_status(account_id: str, region: str, key: dict[str, Any], status: str, reason: str | None) -> None:
    """Puts an app in ``Failed`` (SageMaker reaches it on its own: an image that will not
    start, no capacity; no API causes it). A Failed app no longer blocks its owner's
    deletion, can be created again, and DeleteApp on it is a ValidationException."""
    if status != "Failed":
        raise ValueError(f"Status must be Failed, not {status!r}")
    profile, space = key.get("UserProfileName"), key.get("SpaceName")
    if (profile is None) == (space is None):
        raise ValueError("give exactly one of UserProfileName and SpaceName")
    kind, owner = ("profile", profile) if profile is not None else ("space", space)
    backend = sagemaker_backends[account_id][region]
    with LOCK:
        state = _state(backend)
        state.sweep()
        app = state.apps.get(_app_key(str(key.get("DomainId")), kind, str(owner), str(key.get("AppType")), str(key.get("AppName"))))
        if app is None or app.status == "Deleted":
            raise KeyError(f"no live app {key}")
        app.begin("failed")
        app.failure_reason = reason or "The app failed to start."


def set_legacy_sso_domain(account_id: str, region: str, domain_id: str) -> None:
    """Makes an SSO-mode domain look created before October 1, 2023: DescribeDomain stops
    returning SingleSignOnApplicationArn (the model: "only returned for domains created
    after October 1, 2023"). Its Identity Center application still exists."""
    backend = sagemaker_backends[account_id][region]
    with LOCK:
        domain = backend.domains.get(domain_id)
        if domain is None:
            raise KeyError(f"no domain {domain_id}")
        if domain.auth_mode != "SSO":
            raise ValueError(f"domain {domain_id} is not an SSO-mode domain")
        domain.warden_legacy_sso = True
