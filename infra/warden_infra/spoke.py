"""A spoke of an organisation deployment (`deployment: spoke`): one stack per workload account,
covering every region the policy places that account's domains in.

- The role `studio-warden-spoke` (IAM is global: one per account, created once by this stack for
  all its regions), trusted by the hub's two function roles only, and only while they are in the
  organisation; its permissions are the single-account functions' SageMaker, tagging and EC2
  grants (iam.sagemaker_statements), on this account's managed domains only, scoped by the
  ownership tag as today, plus PassRole of those domains' execution roles.
- In each of those regions, a rule on the default bus forwarding the drift events (the
  single-account drift pattern, for this account's domains there) to the hub's bus, with one
  forwarder role (events:PutEvents on the hub bus, nothing else) shared by the regions.

In the hub's own account the functions act with their own roles (no spoke role): the stack then
only forwards.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from . import iam
from .aws_context import AwsContext
from .config import ConfigError, StackConfig
from .organization import execution_roles_of, in_account, place_domains
from .triggers import create_forward_rule, create_forwarder_role, drift_event_pattern, pattern_json


def build_spoke(config: StackConfig, ctx: AwsContext) -> dict[str, pulumi.Input]:
    org = config.org
    domains = place_domains(config, ctx.partition, org.hub_account, org.hub_region)
    mine = [d for d in domains if d.account == ctx.account]
    if not mine:
        raise ConfigError(f"the policy places no domain in account {ctx.account}: a spoke here would serve nothing")
    outputs: dict[str, pulumi.Input] = {}

    if ctx.account != org.hub_account:
        role_arn = ctx.iam_role(org.spoke_role_name)
        others = sorted({d.role_arn for d in mine if d.role_arn != role_arn})
        if others:
            raise ConfigError(f"the policy's domains in account {ctx.account} name roles {others}; this stack creates {role_arn} (spokeRoleName)")
        execution_roles = execution_roles_of(config, {d.name for d in mine})
        foreign = [r for r in execution_roles if r.split(":")[4] != ctx.account]
        if foreign:
            raise ConfigError(f"execution roles {foreign} of domains in account {ctx.account} belong to another account")
        role = aws.iam.Role(
            "spoke-role",
            name=org.spoke_role_name,
            description="studio-warden spoke: the hub's functions manage this account's studio-warden profiles",
            assume_role_policy=json.dumps(iam.cross_account_trust(list(org.hub_function_role_arns), org.org_id)),
            tags=config.tags(),
        )
        aws.iam.RolePolicy(
            "spoke-role-policy",
            role=role.id,
            policy=json.dumps(
                iam.spoke_role_policy(
                    in_account(domains, ctx),
                    execution_roles,
                    config.policy.shared_spaces,
                    config.policy.creates_private_spaces,
                )
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        outputs["spokeRoleArn"] = role.arn

    forwarder = create_forwarder_role("drift-forwarder-role", config, ctx, org.hub_bus_arn)
    groups = sorted(set(config.policy.security_groups) | set(config.drift_security_group_ids))
    rules = {}
    for region in sorted({d.region for d in mine}):
        ids = [d.id for d in mine if d.region == region]
        pattern = pattern_json(drift_event_pattern(ids, groups), "drift")
        rule = create_forward_rule(
            f"drift-events-forward-{region}",
            f"SageMaker domain/profile and security group changes in {region} -> the studio-warden hub bus",
            config,
            ctx,
            pattern,
            org.hub_bus_arn,
            forwarder,
            region,
        )
        rules[region] = rule.name
    outputs["driftForwardRules"] = rules
    return outputs
