"""The Identity Center account's part of an organisation deployment (`deployment:
identity-center`), in the Identity Center home region:

- a rule on the default bus forwarding the membership events (CloudTrail identitystore,
  sso-directory and identitystore-scim records, and Identity Center's own aws.identitystore
  notifications: the single-account pattern, triggers.membership_event_pattern) to the hub's
  bus, with a forwarder role allowed events:PutEvents on that bus only;
- optionally (identityRole: true), the role `studio-warden-identity`, trusted by the hub's two
  function roles only (and the organisation), with the functions' Identity Store reads and
  application-assignment grants on this account's store and the domains' applications: the
  policy's `[identity_store] role` then names it.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from . import iam
from .aws_context import AwsContext
from .config import ConfigError, StackConfig, sso_applications
from .triggers import create_forward_rule, create_forwarder_role, membership_event_pattern, pattern_json


def build_identity_center(config: StackConfig, ctx: AwsContext) -> dict[str, pulumi.Input]:
    org = config.org
    home = config.identity_center_region or ctx.region
    store_id = config.policy.identity_store_id
    pattern = pattern_json(membership_event_pattern(store_id, ctx.identity_store(store_id), config.scim_tenant_id), "membership")
    forwarder = create_forwarder_role("membership-forwarder-role", config, ctx, org.hub_bus_arn)
    rule = create_forward_rule(
        "membership-events-forward",
        f"Identity Center membership changes in {home} -> the studio-warden hub bus",
        config,
        ctx,
        pattern,
        org.hub_bus_arn,
        forwarder,
        home,
    )
    outputs: dict[str, pulumi.Input] = {"membershipForwardRule": rule.name}

    named = config.policy.identity_store_role
    expected = ctx.iam_role(org.identity_role_name)
    if org.identity_role:
        if named != expected:
            raise ConfigError(f"identityRole creates {expected}: the policy's [identity_store] role must name it (it names {named!r})")
        role = aws.iam.Role(
            "identity-role",
            name=org.identity_role_name,
            description="studio-warden identity: the hub's functions read the Identity Store and assign domain applications",
            assume_role_policy=json.dumps(iam.cross_account_trust(list(org.hub_function_role_arns), org.org_id)),
            tags=config.tags(),
        )
        applications = sso_applications(config, ctx, None)
        aws.iam.RolePolicy(
            "identity-role-policy",
            role=role.id,
            policy=pulumi.Output.all(*applications).apply(
                lambda arns: json.dumps(iam.identity_role_policy(ctx, store_id, [a for a in arns if a]))
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        outputs["identityRoleArn"] = role.arn
    elif named and named.split(":")[4] == ctx.account:
        raise ConfigError(f"the policy's [identity_store] role {named} is in this account: set identityRole: true to create it")
    return outputs
