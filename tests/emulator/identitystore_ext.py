"""Gaps and unfaithful spots in moto 5.2.5's Identity Store, filled.

* UpdateUser (missing in moto): AttributeOperations on userName, displayName,
  nickName, profileUrl, title, userType, preferredLanguage, locale, timezone,
  name.* and emails/addresses/phoneNumbers; unknown users -> ResourceNotFoundException,
  a userName taken by another user -> ConflictException.
* DeleteUser / DeleteGroup / DeleteGroupMembership: moto ignores unknown ids; AWS
  answers ResourceNotFoundException. Deleting a user or a group also removes its
  group memberships, as Identity Center does.
* CreateGroupMembership for an existing (group, user) pair: ConflictException
  (moto silently created a duplicate membership).
* UserStatus (ENABLED/DISABLED) in DescribeUser and ListUsers. No public API sets it (the
  console's DisableUser/EnableUser, or SCIM `active`), so the control endpoint
  `POST /_emulator/identitystore/user-status` does, standing in for the console.
* Identity stores exist only as the emulator's Identity Center instance has them
  (config.SETTINGS.identity_stores; the first is the one sso-admin ListInstances reports).
  moto created a store on first use of any id; AWS answers ResourceNotFoundException with
  ResourceType IDENTITY_STORE (the model's ResourceType enum) for an unknown store.
* UpdateGroup (missing in moto): displayName and description; a display name taken by
  another group -> ConflictException (as moto's CreateGroup).
* ListGroupMemberships on a group that does not exist: ResourceNotFoundException with
  ResourceType GROUP (the operation's documented error; moto listed nothing). Whether AWS
  answers a deleted group's id this way or with an empty list is unknown in AWS; studio-warden
  does not depend on it (it describes mapped groups before reading their members).
* Responses carry the ARN members the current API marks as required (UserArn,
  GroupArn, MembershipArn), which moto omits.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from moto.identitystore.exceptions import ConflictException, ResourceNotFoundException, ValidationException
from moto.identitystore.models import IdentityStoreBackend, Name, User
from moto.moto_api._internal import mock_random
from moto.identitystore.responses import IdentityStoreResponse

from moto.identitystore.models import IdentityStoreData
from moto.ssoadmin.models import Instance

from config import LOCK, SETTINGS


def _store_id(store_id: str) -> str:
    """IdentityStoreId may be the id or the store's ARN (...:identitystore/d-1234567890)."""
    return (store_id or "").rsplit("/", 1)[-1]


def _get_identity_store(self: IdentityStoreBackend, store_id: str) -> IdentityStoreData:
    """moto's accessor created a store on first use of any id; AWS knows only the stores
    of its Identity Center instances."""
    sid = _store_id(store_id)
    if sid not in SETTINGS.identity_stores or self.account_id != SETTINGS.identity_center_account:
        raise ResourceNotFoundException(message=f"Identity store {sid} not found.", resource_type="IDENTITY_STORE")
    store = self.identity_stores.get(sid)
    if store is None:
        store = self.identity_stores[sid] = IdentityStoreData()
    return store


IdentityStoreBackend._IdentityStoreBackend__get_identity_store = _get_identity_store  # type: ignore[attr-defined]

_original_instance_init = Instance.__init__


def _instance_init(self: Instance, account_id: str, region: str) -> None:
    _original_instance_init(self, account_id, region)
    # moto's random d-xxxxxxxxxx (any lower-case letters) breaks the model's
    # d-[0-9a-f]{10} pattern; the instance's store is the emulator's known store.
    self.identity_store_id = SETTINGS.identity_stores[0]


Instance.__init__ = _instance_init  # type: ignore[method-assign]


def _store(backend: IdentityStoreBackend, store_id: str) -> Any:
    return backend._IdentityStoreBackend__get_identity_store(store_id)  # type: ignore[attr-defined]


def known_store(store_id: str) -> bool:
    return _store_id(store_id) in SETTINGS.identity_stores


def _user_arn(user_id: str) -> str:
    return f"arn:aws:identitystore:::user/{user_id}"


def _group_arn(group_id: str) -> str:
    return f"arn:aws:identitystore:::group/{group_id}"


def _membership_arn(membership_id: str) -> str:
    return f"arn:aws:identitystore:::membership/{membership_id}"


def _add_arns(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_add_arns(item) for item in obj]
    if isinstance(obj, dict):
        # MemberId is a union: it must keep exactly one member.
        out = {k: (v if k == "MemberId" else _add_arns(v)) for k, v in obj.items()}
        if "MembershipId" in out and "MembershipArn" not in out:
            out["MembershipArn"] = _membership_arn(out["MembershipId"])
        elif "UserId" in out and "UserArn" not in out and "MemberId" not in out and "GroupId" not in out:
            out["UserArn"] = _user_arn(out["UserId"])
        elif "GroupId" in out and "GroupArn" not in out and "MemberId" not in out:
            out["GroupArn"] = _group_arn(out["GroupId"])
        return out
    return obj


def _with_arns(method: Callable[[IdentityStoreResponse], str]) -> Callable[[IdentityStoreResponse], str]:
    def wrapper(self: IdentityStoreResponse) -> str:
        return json.dumps(_add_arns(json.loads(method(self))))

    wrapper.__name__ = method.__name__
    return wrapper


def _remove_memberships(store: Any, *, user_id: str | None = None, group_id: str | None = None) -> None:
    for mid, m in list(store.group_memberships.items()):
        if (user_id is not None and m["MemberId"].get("UserId") == user_id) or (
            group_id is not None and m["GroupId"] == group_id
        ):
            del store.group_memberships[mid]


def delete_user(self: IdentityStoreResponse) -> str:
    with LOCK:
        store = _store(self.identitystore_backend, self._get_param("IdentityStoreId"))
        user_id = self._get_param("UserId")
        if user_id not in store.users:
            raise ResourceNotFoundException(message="USER not found.", resource_type="USER")
        del store.users[user_id]
        _remove_memberships(store, user_id=user_id)
        return "{}"


def delete_group(self: IdentityStoreResponse) -> str:
    with LOCK:
        store = _store(self.identitystore_backend, self._get_param("IdentityStoreId"))
        group_id = self._get_param("GroupId")
        if group_id not in store.groups:
            raise ResourceNotFoundException(message="GROUP not found.", resource_type="GROUP")
        del store.groups[group_id]
        _remove_memberships(store, group_id=group_id)
        return "{}"


_original_list_group_memberships = IdentityStoreResponse.list_group_memberships


def list_group_memberships(self: IdentityStoreResponse) -> str:
    with LOCK:
        store = _store(self.identitystore_backend, self._get_param("IdentityStoreId"))
        if self._get_param("GroupId") not in store.groups:
            raise ResourceNotFoundException(message="GROUP not found.", resource_type="GROUP")
    return _original_list_group_memberships(self)


def delete_group_membership(self: IdentityStoreResponse) -> str:
    with LOCK:
        store = _store(self.identitystore_backend, self._get_param("IdentityStoreId"))
        membership_id = self._get_param("MembershipId")
        if membership_id not in store.group_memberships:
            raise ResourceNotFoundException(message="GROUP_MEMBERSHIP not found.", resource_type="GROUP_MEMBERSHIP")
        del store.group_memberships[membership_id]
        return "{}"


_original_create_membership = IdentityStoreResponse.create_group_membership


def create_group_membership(self: IdentityStoreResponse) -> str:
    with LOCK:
        store = _store(self.identitystore_backend, self._get_param("IdentityStoreId"))
        group_id = self._get_param("GroupId")
        user_id = (self._get_param("MemberId") or {}).get("UserId")
        for m in store.group_memberships.values():
            if m["GroupId"] == group_id and m["MemberId"].get("UserId") == user_id:
                raise ConflictException(
                    message="Member and Group relationship already exists.",
                    reason="UNIQUENESS_CONSTRAINT_VIOLATION",
                )
        return _original_create_membership(self)


_SIMPLE_ATTRIBUTES = {
    "username": "UserName",
    "displayname": "DisplayName",
    "nickname": "NickName",
    "profileurl": "ProfileUrl",
    "title": "Title",
    "usertype": "UserType",
    "preferredlanguage": "PreferredLanguage",
    "locale": "Locale",
    "timezone": "Timezone",
    "emails": "Emails",
    "addresses": "Addresses",
    "phonenumbers": "PhoneNumbers",
}
_NAME_ATTRIBUTES = {
    "formatted": "Formatted",
    "familyname": "FamilyName",
    "givenname": "GivenName",
    "middlename": "MiddleName",
    "honorificprefix": "HonorificPrefix",
    "honorificsuffix": "HonorificSuffix",
}


def update_user(self: IdentityStoreResponse) -> str:
    with LOCK:
        store_id = self._get_param("IdentityStoreId")
        store = _store(self.identitystore_backend, store_id)
        user_id = self._get_param("UserId")
        user = store.users.get(user_id)
        if user is None:
            raise ResourceNotFoundException(message="USER not found.", resource_type="USER")
        operations = self._get_param("Operations") or []
        if not operations:
            raise ValidationException(message="Operations must contain at least 1 item")
        changes: dict[str, Any] = {}
        name = dict(user.Name._asdict()) if user.Name else {}
        for op in operations:
            path = str(op.get("AttributePath", ""))
            value = op.get("AttributeValue")
            key = path.lower()
            if key in _SIMPLE_ATTRIBUTES:
                changes[_SIMPLE_ATTRIBUTES[key]] = value
            elif key.startswith("name.") and key[5:] in _NAME_ATTRIBUTES:
                name[_NAME_ATTRIBUTES[key[5:]]] = value
            elif key == "name":
                name = dict(value or {})
            else:
                raise ValidationException(message=f"Invalid attribute path {path}")
        new_name = changes.get("UserName")
        if new_name is not None:
            if not new_name:
                raise ValidationException(message="userName is a required attribute")
            for other in store.users.values():
                if other.UserId != user_id and other.UserName == new_name:
                    raise ConflictException(message="Duplicate UserName", reason="UNIQUENESS_CONSTRAINT_VIOLATION")
        if name:
            changes["Name"] = Name.from_dict(name)
        store.users[user_id] = user._replace(**changes)
        return json.dumps({})


def update_group(self: IdentityStoreResponse) -> str:
    with LOCK:
        store = _store(self.identitystore_backend, self._get_param("IdentityStoreId"))
        group_id = self._get_param("GroupId")
        group = store.groups.get(group_id)
        if group is None:
            raise ResourceNotFoundException(message="GROUP not found.", resource_type="GROUP")
        changes: dict[str, Any] = {}
        for op in self._get_param("Operations") or []:
            path = str(op.get("AttributePath", ""))
            value = op.get("AttributeValue")
            if path.lower() == "displayname":
                if not value:
                    raise ValidationException(message="displayName is a required attribute")
                changes["DisplayName"] = value
            elif path.lower() == "description":
                changes["Description"] = value or ""
            else:
                raise ValidationException(message=f"Invalid attribute path {path}")
        new_name = changes.get("DisplayName")
        if new_name is not None:
            for other in store.groups.values():
                if other.GroupId != group_id and other.DisplayName == new_name:
                    raise ConflictException(message="Duplicate GroupDisplayName", reason="UNIQUENESS_CONSTRAINT_VIOLATION")
        store.groups[group_id] = group._replace(**changes)
        return json.dumps({})


def _statuses(store: Any) -> dict[str, str]:
    # Kept on the store object, so moto's reset (which re-creates backends) clears it too.
    if not hasattr(store, "warden_user_status"):
        store.warden_user_status = {}
    return store.warden_user_status


def set_user_status(backend: IdentityStoreBackend, store_id: str, user_id: str, status: str) -> None:
    """Disables or enables a user, as the Identity Center console does."""
    if status not in ("ENABLED", "DISABLED"):
        raise ValueError(f"UserStatus must be ENABLED or DISABLED, not {status!r}")
    if not known_store(store_id):
        raise KeyError(f"no identity store {store_id}")
    with LOCK:
        store = _store(backend, store_id)
        if user_id not in store.users:
            raise KeyError(f"no user {user_id} in {store_id}")
        _statuses(store)[user_id] = status


def _with_status(method: Callable[[IdentityStoreResponse], str]) -> Callable[[IdentityStoreResponse], str]:
    def wrapper(self: IdentityStoreResponse) -> str:
        out = json.loads(method(self))
        statuses = _statuses(_store(self.identitystore_backend, self._get_param("IdentityStoreId")))
        users = out.get("Users") if isinstance(out.get("Users"), list) else [out]
        for user in users:
            if isinstance(user, dict) and "UserId" in user:
                user["UserStatus"] = statuses.get(user["UserId"], "ENABLED")
        return json.dumps(out)

    wrapper.__name__ = method.__name__
    return wrapper


for _fn in (delete_user, delete_group, delete_group_membership, create_group_membership, update_user, update_group, list_group_memberships):
    setattr(IdentityStoreResponse, _fn.__name__, _fn)

for _name in (
    "create_user",
    "create_group",
    "describe_user",
    "describe_group",
    "get_group_id",
    "get_user_id",
    "create_group_membership",
    "describe_group_membership",
    "get_group_membership_id",
    "list_group_memberships",
    "list_group_memberships_for_member",
    "list_users",
    "list_groups",
):
    setattr(IdentityStoreResponse, _name, _with_arns(getattr(IdentityStoreResponse, _name)))

for _name in ("describe_user", "list_users"):
    setattr(IdentityStoreResponse, _name, _with_status(getattr(IdentityStoreResponse, _name)))


def seed(backend: IdentityStoreBackend, store_id: str, group_names: list[str], users: int, prefix: str) -> dict[str, Any]:
    """Bulk set-up for benchmarks: creates the groups and `users` users (user j joins group
    j % len(groups)) through the backend's own create calls, without one HTTP request each."""
    if users < 0 or users > 200_000:
        raise ValueError("users must be between 0 and 200000")
    if not group_names and users:
        raise ValueError("users need at least one group")
    if not known_store(store_id):
        raise ValueError(f"no identity store {store_id} (known: {', '.join(SETTINGS.identity_stores)})")
    with LOCK:
        groups: dict[str, str] = {}
        for name in group_names:
            group_id, _ = backend.create_group(store_id, name, "")
            groups[name] = group_id
        ids = list(groups.values())
        user_ids: list[str] = []
        # Straight into the store: moto's create_user compares each new name with every user
        # there, so 50,000 creates one by one are quadratic. The names made here are unique
        # unless the prefix was used before, which is checked once.
        store = backend._IdentityStoreBackend__get_identity_store(store_id)  # type: ignore[attr-defined]
        if any(u.UserName.startswith(prefix) for u in store.users.values()) and users:
            raise ValueError(f"users with the prefix {prefix!r} exist already")
        for j in range(users):
            name = f"{prefix}{j:06d}"
            user_id = str(mock_random.uuid4())
            store.users[user_id] = User(
                user_id, store_id, name, Name.from_dict({"GivenName": name, "FamilyName": "Bench"}),
                name, "", "", [], [], [], "", "", "", "", "",
            )
            user_ids.append(user_id)
            if ids:
                membership_id = str(mock_random.uuid4())
                store.group_memberships[membership_id] = {
                    "IdentityStoreId": store_id,
                    "MembershipId": membership_id,
                    "GroupId": ids[j % len(ids)],
                    "MemberId": {"UserId": user_id},
                }
        return {"groups": groups, "users": user_ids}
