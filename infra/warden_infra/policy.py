"""The parts of the studio-warden policy file (TOML) that decide the stack's IAM scope.

The functions own the full schema; this reads only what the infrastructure needs and ignores the
rest: the identity store (id, home region), the domains (local name, optional id, and from the
baseline the auth mode and approved security groups), from each mapping the execution role and
security groups and whether it asks for a private space (`[mappings.private_space]`: the functions
then create one per new profile), and `[offboarding] shared_spaces` (whether offboarding may delete shared spaces). Anything that would widen a grant (a wildcard
role, a malformed id) is rejected here with a message naming the file and the entry.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

IDENTITY_STORE_ID = re.compile(r"^(d-[0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
DOMAIN_ID = re.compile(r"^d-(-*[a-z0-9]){1,61}$")  # the SageMaker API pattern
DOMAIN_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# An IAM role ARN with an optional path, and no wildcard anywhere: PassRole must stay exact.
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]+$")
SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{4,17}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")  # IAM role names: no path, no wildcard


class PolicyError(ValueError):
    """The policy file cannot be used to derive the stack's permissions."""


SHARED_SPACES = ("keep", "delete")
AUTH_MODES = ("IAM", "SSO")


@dataclass(frozen=True)
class Domain:
    name: str
    id: str | None
    # From [domains.baseline]: the auth mode the domain must have (None: not declared), and the
    # security groups it approves besides the mappings'.
    auth_mode: str | None = None
    baseline_security_groups: tuple[str, ...] = ()
    # Where the domain lives (issue 14): None = the function's own account / region.
    account: str | None = None
    region: str | None = None
    # The role the functions assume for it: a role name or ARN (None: the default, which is
    # studio-warden-spoke for a domain in another account and none in the function's own).
    role: str | None = None


@dataclass(frozen=True)
class Mapping:
    domain: str
    execution_role: str | None
    security_groups: tuple[str, ...]
    # [mappings.private_space]: a private JupyterLab space is created with each new profile.
    private_space: bool = False


@dataclass(frozen=True)
class WardenPolicy:
    identity_store_id: str
    identity_store_region: str | None
    domains: tuple[Domain, ...]
    mappings: tuple[Mapping, ...]
    # [offboarding] shared_spaces: "keep" (default) or "delete" the user's owned shared spaces.
    shared_spaces: str = "keep"
    # [identity_store] role: assumed for Identity Store and sso-admin calls when the functions do
    # not run in the Identity Center account (issue 14). None: they call with their own role.
    identity_store_role: str | None = None

    @property
    def creates_private_spaces(self) -> bool:
        """Whether any mapping asks for a private space at onboarding (sagemaker:CreateSpace)."""
        return any(m.private_space for m in self.mappings)

    @property
    def execution_roles(self) -> list[str]:
        """Every execution role a mapping names: the only roles the functions may pass."""
        return sorted({m.execution_role for m in self.mappings if m.execution_role})

    @property
    def security_groups(self) -> list[str]:
        """Every security group the policy names: the mappings' and the baselines' approved ones."""
        groups = {sg for m in self.mappings for sg in m.security_groups}
        groups |= {sg for d in self.domains for sg in d.baseline_security_groups}
        return sorted(groups)

    def domain(self, name: str) -> Domain:
        for domain in self.domains:
            if domain.name == name:
                return domain
        raise PolicyError(f"no [[domains]] entry is named {name!r}")


def load_policy(path: Path) -> WardenPolicy:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file {path} does not exist (stack config policyFile)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from exc
    return parse_policy(raw, source=str(path))


def parse_policy(raw: dict, source: str = "policy") -> WardenPolicy:
    def fail(message: str) -> PolicyError:
        return PolicyError(f"{source}: {message}")

    store = raw.get("identity_store")
    if not isinstance(store, dict):
        raise fail("missing [identity_store] table")
    store_id = store.get("id")
    if not isinstance(store_id, str) or not IDENTITY_STORE_ID.match(store_id):
        raise fail(f"[identity_store] id {store_id!r} is not an Identity Store id (d-xxxxxxxxxx)")
    store_region = store.get("region")
    if store_region is not None and (not isinstance(store_region, str) or not REGION.match(store_region)):
        raise fail(f"[identity_store] region {store_region!r} is not an AWS region")
    store_role = store.get("role")
    if store_role is not None and (not isinstance(store_role, str) or not ROLE_ARN.match(store_role)):
        raise fail(f"[identity_store] role {store_role!r} is not an exact IAM role ARN")

    domains: list[Domain] = []
    for index, entry in enumerate(raw.get("domains") or []):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not DOMAIN_NAME.match(name):
            raise fail(f"[[domains]] #{index + 1}: name {name!r} is missing or invalid")
        domain_id = entry.get("id")
        if domain_id is not None and (not isinstance(domain_id, str) or not DOMAIN_ID.match(domain_id)):
            raise fail(f"[[domains]] {name!r}: id {domain_id!r} is not a SageMaker domain id")
        if any(d.name == name for d in domains):
            raise fail(f"[[domains]] {name!r} is declared twice")
        baseline = entry.get("baseline") or {}
        if not isinstance(baseline, dict):
            raise fail(f"[[domains]] {name!r}: baseline is not a table")
        auth_mode = baseline.get("auth_mode")
        if auth_mode is not None and auth_mode not in AUTH_MODES:
            raise fail(f"[[domains]] {name!r}: baseline auth_mode {auth_mode!r} is not IAM or SSO")
        approved = baseline.get("security_groups") or []
        if not isinstance(approved, list) or not all(isinstance(g, str) and SECURITY_GROUP_ID.match(g) for g in approved):
            raise fail(f"[[domains]] {name!r}: baseline security_groups must be a list of sg-... ids")
        account, region, role = entry.get("account"), entry.get("region"), entry.get("role")
        if account is not None and (not isinstance(account, str) or not ACCOUNT_ID.match(account)):
            raise fail(f"[[domains]] {name!r}: account {account!r} is not a 12-digit account id")
        if region is not None and (not isinstance(region, str) or not REGION.match(region)):
            raise fail(f"[[domains]] {name!r}: region {region!r} is not an AWS region")
        if role is not None and (not isinstance(role, str) or not (ROLE_ARN.match(role) or ROLE_NAME.match(role))):
            raise fail(f"[[domains]] {name!r}: role {role!r} is neither an IAM role name nor an exact role ARN")
        place = (account, region, domain_id)
        if domain_id and any((d.account, d.region, d.id) == place for d in domains):
            raise fail(f"[[domains]] {name!r}: another domain already claims id {domain_id} in the same account and region")
        domains.append(
            Domain(
                name=name,
                id=domain_id,
                auth_mode=auth_mode,
                baseline_security_groups=tuple(approved),
                account=account,
                region=region,
                role=role,
            )
        )
    if not domains:
        raise fail("no [[domains]] entry: there is nothing to manage")

    mappings: list[Mapping] = []
    for index, entry in enumerate(raw.get("mappings") or []):
        if not isinstance(entry, dict):
            raise fail(f"[[mappings]] #{index + 1} is not a table")
        label = f"[[mappings]] #{index + 1} ({entry.get('group') or entry.get('group_id')!r})"
        domain = entry.get("domain")
        if not any(d.name == domain for d in domains):
            raise fail(f"{label}: domain {domain!r} is not a declared [[domains]] name")
        role = entry.get("execution_role")
        if role is not None and (not isinstance(role, str) or not ROLE_ARN.match(role)):
            raise fail(f"{label}: execution_role {role!r} is not an exact IAM role ARN (no wildcards)")
        groups = entry.get("security_groups") or []
        if not isinstance(groups, list) or not all(isinstance(g, str) and SECURITY_GROUP_ID.match(g) for g in groups):
            raise fail(f"{label}: security_groups must be a list of sg-... ids")
        private_space = entry.get("private_space")
        if private_space is not None and not isinstance(private_space, dict):
            raise fail(f"{label}: private_space must be a table ([mappings.private_space])")
        mappings.append(
            Mapping(domain=domain, execution_role=role, security_groups=tuple(groups), private_space=private_space is not None)
        )

    offboarding = raw.get("offboarding") or {}
    if not isinstance(offboarding, dict):
        raise fail("[offboarding] is not a table")
    shared_spaces = offboarding.get("shared_spaces", "keep")
    if shared_spaces not in SHARED_SPACES:
        raise fail(f"[offboarding] shared_spaces {shared_spaces!r} must be \"keep\" or \"delete\"")

    return WardenPolicy(
        shared_spaces=shared_spaces,
        identity_store_id=store_id,
        identity_store_region=store_region,
        identity_store_role=store_role,
        domains=tuple(domains),
        mappings=tuple(mappings),
    )
