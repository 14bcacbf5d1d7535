"""Where each policy domain lives in an organisation deployment, and which role reaches it.

The policy's `[[domains]]` entries may name an `account` and a `region` (default: the hub's, where
the functions run) and a `role` to assume (a name or an ARN; default: `studio-warden-spoke` for a
domain in another account, none in the hub's own). This module resolves them exactly as the
functions do (the contract in README, "Deploying to an organisation"), so that every part of the
deployment scopes its IAM to the same places.
"""

from __future__ import annotations

from dataclasses import dataclass

from .aws_context import AwsContext
from .config import SPOKE_ROLE_NAME, ConfigError, StackConfig


@dataclass(frozen=True)
class PlacedDomain:
    name: str
    id: str
    account: str
    region: str
    role_arn: str | None  # the role the functions assume for it; None: their own


def place_domains(config: StackConfig, partition: str, hub_account: str, hub_region: str) -> list[PlacedDomain]:
    placed = []
    for d in config.policy.domains:
        if not d.id:
            raise ConfigError(f"policy domain {d.name!r} has no id: an organisation deployment creates no domain")
        account = d.account or hub_account
        region = d.region or hub_region
        if d.role and d.role.startswith("arn:"):
            role = d.role
        elif d.role:
            role = f"arn:{partition}:iam::{account}:role/{d.role}"
        elif account != hub_account:
            role = f"arn:{partition}:iam::{account}:role/{SPOKE_ROLE_NAME}"
        else:
            role = None
        placed.append(PlacedDomain(name=d.name, id=d.id, account=account, region=region, role_arn=role))
    return placed


def execution_roles_of(config: StackConfig, domain_names: set[str]) -> list[str]:
    """The execution roles the policy's mappings name for these domains."""
    return sorted({m.execution_role for m in config.policy.mappings if m.domain in domain_names and m.execution_role})


def in_account(domains: list[PlacedDomain], ctx: AwsContext) -> list[tuple[AwsContext, str]]:
    """The domains of ctx's account, each with the context of its region."""
    return [(ctx.at(region=d.region), d.id) for d in domains if d.account == ctx.account]
