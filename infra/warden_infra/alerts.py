"""The alert topic: encrypted with its own CMK, open to this account's CloudWatch alarms, closed to
unencrypted transport. The functions publish drift and failure alerts here; alarms notify here."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from . import iam
from .aws_context import AwsContext
from .config import StackConfig
from .keys import create_key

# CloudWatch alarms are the only AWS service that publishes to the topic (the functions publish
# with their own roles). No EventBridge rule targets it, so EventBridge gets no key grant.
PUBLISHING_SERVICES = ("cloudwatch.amazonaws.com",)


@dataclass(frozen=True)
class AlertTopic:
    key: aws.kms.Key
    topic: aws.sns.Topic
    region: str


def create_alert_topic(config: StackConfig, ctx: AwsContext, region: str | None = None) -> AlertTopic:
    """One topic per region: CloudWatch alarms can only notify a topic in their own region."""
    region = region or ctx.region
    in_stack_region = region == ctx.region
    suffix = "" if in_stack_region else f"-{region}"
    resource_region = None if in_stack_region else region  # None: the provider's (stack) region
    key = create_key(
        f"alerts-key{suffix}",
        config,
        ctx,
        description=f"studio-warden {config.stack}: alert topic encryption ({region})",
        service_principals=PUBLISHING_SERVICES,
        region=resource_region,
    )
    topic = aws.sns.Topic(
        f"alerts{suffix}",
        name=f"{config.name_prefix}-alerts",
        kms_master_key_id=key.arn,
        region=resource_region,
        tags=config.tags(),
    )
    aws.sns.TopicPolicy(
        f"alerts{suffix}-policy",
        arn=topic.arn,
        policy=topic.arn.apply(lambda arn: json.dumps(iam.alert_topic_policy(ctx, arn, region))),
        region=resource_region,
        opts=pulumi.ResourceOptions(parent=topic),
    )
    for index, email in enumerate(config.alert_emails):
        aws.sns.TopicSubscription(
            f"alerts{suffix}-email-{index}",
            topic=topic.arn,
            protocol="email",
            endpoint=email,
            region=resource_region,
            opts=pulumi.ResourceOptions(parent=topic),
        )
    return AlertTopic(key=key, topic=topic, region=region)
