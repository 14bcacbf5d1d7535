"""The hub of an organisation deployment (`deployment: hub`): what the single-account stack
deploys minus the domain and the network (functions, ledger, alert topic, alarms, dashboard,
schedule), plus

- a custom event bus whose policy admits events:PutEvents from the organisation only, where the
  spokes and the Identity Center account forward their events, and the membership and drift
  rules on it (the single-account patterns, from the same builders);
- the work queue: FIFO, explicit deduplication ids, a FIFO dead-letter queue after 5 receives,
  consumed by compliance-sweep (worker mode) through an event source mapping that reports
  partial batch failures, and the dead-letter queue's depth alarm;
- function roles that may assume exactly the roles the policy's domains (and identity store)
  resolve to, while those roles belong to the organisation.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from . import iam
from .alarms import function_alarms, queue_depth_alarm, rule_alarms, schedule_alarms, sweep_heartbeat
from .alerts import create_alert_topic
from .aws_context import AwsContext
from .config import StackConfig, sso_applications
from .dashboard import create_dashboard, metric_alarms
from .functions import HubGrants, SharedResources, WardenFunction, create_function
from .keys import create_key
from .ledger import create_ledger
from .organization import PlacedDomain, execution_roles_of, in_account, place_domains
from .queues import FOURTEEN_DAYS
from .triggers import (
    _allow_rules_to_dead_letter,
    _rule_to_function,
    create_sweep_schedule,
    drift_event_pattern,
    membership_event_pattern,
    pattern_json,
)

# AWS: "set the source queue's visibility timeout to at least six times the configuration
# timeout on your function" (Lambda developer guide, "Creating and configuring an Amazon SQS
# event source mapping", services-sqs-configure.html): room for Lambda's retries when the
# function is throttled while processing a previous batch.
VISIBILITY_TIMEOUT_FACTOR = 6
MAX_RECEIVE_COUNT = 5
WORK_RETENTION_SECONDS = 4 * 24 * 3600  # SQS's default, stated: shorter than the dead-letter queue's 14 days


def assumable_roles(config: StackConfig, domains: list[PlacedDomain]) -> list[str]:
    """Exactly the roles the functions assume: each domain's (studio-warden-spoke in its account
    unless the policy names another) and the identity store's, if any."""
    roles = {d.role_arn for d in domains if d.role_arn}
    if config.policy.identity_store_role:
        roles.add(config.policy.identity_store_role)
    return sorted(roles)


def identity_store_owner(config: StackConfig, ctx: AwsContext) -> str:
    """The account whose Identity Store the policy names: the identity role's, else the
    configured Identity Center account, else the hub's own (the hub is the Identity Center
    account)."""
    role = config.policy.identity_store_role
    if role:
        return role.split(":")[4]
    return config.identity_center_account_id or ctx.account


def create_work_queue(config: StackConfig, sweep_timeout_seconds: int) -> tuple[aws.sqs.Queue, aws.sqs.Queue]:
    dlq = aws.sqs.Queue(
        "work-dlq",
        name=f"{config.name_prefix}-work-dlq.fifo",
        fifo_queue=True,
        content_based_deduplication=False,
        sqs_managed_sse_enabled=True,
        message_retention_seconds=FOURTEEN_DAYS,
        tags=config.tags(),
    )
    queue = aws.sqs.Queue(
        "work",
        name=f"{config.name_prefix}-work.fifo",
        fifo_queue=True,
        # The fan-out sets MessageDeduplicationId = {sweep_id}#{domain}: content-based
        # deduplication would drop a domain's unchanged work item of the next sweep.
        content_based_deduplication=False,
        sqs_managed_sse_enabled=True,
        visibility_timeout_seconds=VISIBILITY_TIMEOUT_FACTOR * sweep_timeout_seconds,
        message_retention_seconds=WORK_RETENTION_SECONDS,
        redrive_policy=dlq.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVE_COUNT})),
        tags=config.tags(),
    )
    aws.sqs.RedriveAllowPolicy(
        "work-dlq-redrive-allow",
        queue_url=dlq.url,
        redrive_allow_policy=queue.arn.apply(lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})),
        opts=pulumi.ResourceOptions(parent=dlq),
    )
    return queue, dlq


def create_worker_mapping(config: StackConfig, queue: aws.sqs.Queue, sweep: WardenFunction) -> aws.lambda_.EventSourceMapping:
    """compliance-sweep in worker mode: one batch (default one domain) per invocation, failed
    items reported back (ReportBatchItemFailures), at most workQueueMaximumConcurrency at once."""
    org = config.org
    return aws.lambda_.EventSourceMapping(
        "work-queue-mapping",
        event_source_arn=queue.arn,
        function_name=sweep.function.arn,
        batch_size=org.work_batch_size,
        function_response_types=["ReportBatchItemFailures"],
        scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=org.work_max_concurrency),
        enabled=True,
        tags=config.tags(),
    )


def create_hub_bus(config: StackConfig) -> aws.cloudwatch.EventBus:
    org = config.org
    bus = aws.cloudwatch.EventBus("hub-bus", name=org.hub_bus_name, tags=config.tags())
    aws.cloudwatch.EventBusPolicy(
        "hub-bus-policy",
        event_bus_name=bus.name,
        policy=bus.arn.apply(lambda arn: json.dumps(iam.hub_bus_policy(arn, org.org_id))),
        opts=pulumi.ResourceOptions(parent=bus),
    )
    return bus


def build_hub(config: StackConfig, ctx: AwsContext) -> dict[str, pulumi.Input]:
    org = config.org
    domains = place_domains(config, ctx.partition, ctx.account, ctx.region)
    local = in_account(domains, ctx)
    local_roles = execution_roles_of(config, {d.name for d in domains if d.account == ctx.account})
    assumable = assumable_roles(config, domains)
    store_id = config.policy.identity_store_id
    store_arn = ctx.at(account=identity_store_owner(config, ctx)).identity_store(store_id)
    direct_identity = config.policy.identity_store_role is None

    data_key = create_key("data-key", config, ctx, description=f"studio-warden {config.stack}: ledger")
    alerts = create_alert_topic(config, ctx)
    ledger = create_ledger(config, data_key)
    bus = create_hub_bus(config)
    work, work_dlq = create_work_queue(config, config.compliance_sweep.timeout_seconds)

    shared = SharedResources(
        domain_ids=[],
        domain_ids_env="{}",  # every domain of a hub's policy has its id
        # Application assignments go through the identity role when there is one.
        sso_application_arns=sso_applications(config, ctx, None) if direct_identity else [],
        table=ledger,
        topic=alerts.topic,
        data_key=data_key,
        alerts_key=alerts.key,
    )

    def policy(v: dict) -> dict:
        return iam.hub_function_policy(
            iam.HubScope(
                ctx=ctx,
                local_domains=local,
                local_execution_roles=local_roles,
                identity_store_arn=store_arn if direct_identity else None,
                sso_application_arns=[arn for arn in v["sso_application_arns"] if arn],
                table_arn=v["table_arn"],
                topic_arn=v["topic_arn"],
                data_key_arn=v["data_key_arn"],
                alerts_key_arn=v["alerts_key_arn"],
                log_group_arn=v["log_group_arn"],
                failure_queue_arn=v["failure_queue_arn"],
                assumable_role_arns=assumable,
                org_id=org.org_id,
                work_queue_arn=v.get("work_queue_arn"),
                shared_spaces=config.policy.shared_spaces,
                create_private_spaces=config.policy.creates_private_spaces,
            )
        )

    membership_sync = create_function(
        "membership-sync",
        "Identity Center membership change -> SageMaker profiles (studio-warden hub)",
        config.membership_sync,
        config,
        ctx,
        shared,
        hub=HubGrants(policy=policy, environment={"WARDEN_ACCOUNT_ID": ctx.account}),
    )
    compliance_sweep = create_function(
        "compliance-sweep",
        "Scheduled reconcile, drift checks and the work queue's domains (studio-warden hub)",
        config.compliance_sweep,
        config,
        ctx,
        shared,
        hub=HubGrants(
            policy=policy,
            inputs={"work_queue_arn": work.arn},
            environment={"WARDEN_ACCOUNT_ID": ctx.account, "WARDEN_WORK_QUEUE_URL": work.url},
        ),
    )
    create_worker_mapping(config, work, compliance_sweep)

    membership_pattern = pattern_json(membership_event_pattern(store_id, store_arn, config.scim_tenant_id), "membership")
    membership_rule = _rule_to_function(
        "membership-events",
        "Identity Center membership changes forwarded from the Identity Center account -> membership-sync",
        membership_pattern,
        membership_sync,
        config,
        bus=bus.name,
    )
    _allow_rules_to_dead_letter(f"{membership_sync.name}-delivery-dlq", membership_sync.delivery_dlq, [membership_rule])
    groups = sorted(set(config.policy.security_groups) | set(config.drift_security_group_ids))
    drift_pattern = pattern_json(drift_event_pattern([d.id for d in domains], groups), "drift")
    drift_rule = _rule_to_function(
        "drift-events",
        "SageMaker domain/profile and security group changes forwarded from the spokes -> compliance-sweep",
        drift_pattern,
        compliance_sweep,
        config,
        bus=bus.name,
    )
    _allow_rules_to_dead_letter(f"{compliance_sweep.name}-delivery-dlq", compliance_sweep.delivery_dlq, [drift_rule])
    _, schedule_group = create_sweep_schedule(config, ctx, compliance_sweep)

    for fn in (membership_sync, compliance_sweep):
        function_alarms(config, fn, alerts)
        queue_depth_alarm(f"{fn.name}-delivery-dlq", config, fn.delivery_dlq, alerts)
        queue_depth_alarm(f"{fn.name}-failure-dlq", config, fn.failure_dlq, alerts)
    queue_depth_alarm("work-dlq", config, work_dlq, alerts)
    rule_alarms("membership-events", config, membership_rule, alerts)
    rule_alarms("drift-events", config, drift_rule, alerts)
    schedule_alarms(config, schedule_group, alerts)
    sweep_heartbeat(config, compliance_sweep, alerts)
    own_alarms = metric_alarms(config, membership_sync, compliance_sweep, alerts)
    create_dashboard(config, ctx.region, membership_sync, compliance_sweep, own_alarms)

    return {
        "ledgerTable": ledger.name,
        "alertTopicArn": alerts.topic.arn,
        "membershipSyncFunction": membership_sync.function.name,
        "complianceSweepFunction": compliance_sweep.function.name,
        # What the spoke and identity-center stacks need (hubBusArn, hubFunctionRoleArns).
        "hubEventBusArn": bus.arn,
        "hubFunctionRoleArns": pulumi.Output.all(membership_sync.role.arn, compliance_sweep.role.arn).apply(sorted),
        "workQueueUrl": work.url,
    }
