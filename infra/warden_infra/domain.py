"""The SageMaker domain: created VPC-only with the stack's KMS key and Docker access off, or an
existing domain adopted by id (its settings are then the compliance sweep's to check, not ours)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from . import iam
from .aws_context import AwsContext
from .config import StackConfig
from .network import Network


@dataclass(frozen=True)
class StudioDomain:
    id: pulumi.Input[str]
    url: pulumi.Input[str]
    # The domain's Identity Center application (SSO-mode domains created after September 2023).
    sso_application_arn: pulumi.Input[str | None]


def studio_url(domain_id: str, region: str) -> str:
    return f"https://{domain_id}.studio.{region}.sagemaker.aws"


def adopt_domain(config: StackConfig, ctx: AwsContext) -> StudioDomain:
    return StudioDomain(id=config.domain_id, url=studio_url(config.domain_id, ctx.region), sso_application_arn=None)


def create_domain(config: StackConfig, ctx: AwsContext, network: Network, data_key: aws.kms.Key) -> StudioDomain:
    role_arn, role = _execution_role(config, ctx)
    security_groups = network.studio_security_group_ids
    domain = aws.sagemaker.Domain(
        "domain",
        domain_name=f"{config.name_prefix}-{config.stack_domain_name}",
        auth_mode=config.auth_mode,
        app_network_access_type="VpcOnly",
        vpc_id=network.vpc_id,
        subnet_ids=network.subnet_ids,
        kms_key_id=data_key.arn,
        domain_settings=aws.sagemaker.DomainDomainSettingsArgs(
            security_group_ids=security_groups,
            docker_settings=aws.sagemaker.DomainDomainSettingsDockerSettingsArgs(enable_docker_access="DISABLED"),
            # SageMaker assumes execution roles with the user's profile name as the session's
            # source identity: the default role's per-user isolation keys on it. Every execution
            # role used in this domain must therefore trust sts:SetSourceIdentity (README).
            execution_role_identity_config="USER_PROFILE_NAME",
        ),
        default_user_settings=aws.sagemaker.DomainDefaultUserSettingsArgs(
            execution_role=role_arn,
            security_groups=security_groups,
        ),
        default_space_settings=aws.sagemaker.DomainDefaultSpaceSettingsArgs(
            execution_role=role_arn,
            security_groups=security_groups,
        ),
        # Keep the users' home EFS volume if the domain is ever deleted: it holds their work.
        retention_policy=aws.sagemaker.DomainRetentionPolicyArgs(home_efs_file_system="Retain"),
        tags=config.tags(**{"studio-warden:policy-domain": config.stack_domain_name}),
    )
    if role is not None:
        # Attached after the domain exists, because it names the domain; the role is not used
        # until a user opens Studio, which cannot happen before the domain is InService.
        aws.iam.RolePolicy(
            "studio-execution-policy",
            role=role.id,
            policy=pulumi.Output.all(domain.id, data_key.arn).apply(
                lambda v: json.dumps(iam.studio_execution_policy(ctx, v[0], v[1]))
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
    return StudioDomain(id=domain.id, url=domain.url, sso_application_arn=domain.single_sign_on_application_arn)


def _execution_role(config: StackConfig, ctx: AwsContext) -> tuple[pulumi.Input[str], aws.iam.Role | None]:
    if config.execution_role_arn:
        return config.execution_role_arn, None
    role = aws.iam.Role(
        "studio-execution-role",
        description="Default execution role of the studio-warden domain: runs Studio apps, nothing else",
        # No aws:SourceAccount condition: Studio does not promise to send it when assuming the
        # execution role, and a condition on an absent key would lock every user out.
        assume_role_policy=json.dumps(iam.assume_role_policy("sagemaker.amazonaws.com", set_source_identity=True)),
        tags=config.tags(),
    )
    return role.arn, role
