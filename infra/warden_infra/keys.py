"""Customer managed KMS keys: one for the stack's data (domain volumes, ledger table) and one per
region for the alert topic, whose key policy also admits the AWS services that publish to it."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from . import iam
from .aws_context import AwsContext
from .config import StackConfig


def create_key(
    name: str,
    config: StackConfig,
    ctx: AwsContext,
    description: str,
    service_principals: tuple[str, ...] = (),
    region: str | None = None,
) -> aws.kms.Key:
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=json.dumps(iam.key_policy(ctx, service_principals)),
        region=region,
        tags=config.tags(),
    )
    aws.kms.Alias(
        f"{name}-alias",
        name=f"alias/{config.name_prefix}-{name}",
        target_key_id=key.key_id,
        region=region,
        opts=pulumi.ResourceOptions(parent=key),
    )
    return key
