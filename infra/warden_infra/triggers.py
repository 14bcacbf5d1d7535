"""What invokes the functions: CloudTrail events through EventBridge, and the sweep schedule.

Membership events (membership-sync) are logged by CloudTrail only in the Identity Center home
region. When that is the stack's region, one rule on the default bus invokes the function. When it
is not, a rule in the home region forwards the same events to the stack region's default bus,
where the same pattern invokes the function (EventBridge rules can only target a function in their
own region).

Identity Center also sends its own Identity Store notifications (source aws.identitystore,
detail-types "User Updated", "User Deleted", "Group Updated", "Group Deleted") to the same default
bus, with no trail: the membership pattern is an `$or` of the CloudTrail records and those
notifications, so that the same rule (and its forwarder) carries both.

Event patterns (see README.md, "Event patterns", for the sources):
- every rule requires `detail.errorCode` to be absent: failed calls are logged too and change
  nothing;
- identitystore and sso-directory events carry `requestParameters.identityStoreId` (the Identity
  Store API requires it on every call, and the console's sso-directory calls send it, e.g.
  AddMemberToGroup), so those branches match only the configured store, by id or by ARN (the
  Identity Store API also accepts the store's ARN);
- identitystore-scim events carry no identityStoreId: their requestParameters hold the SCIM
  `tenantId` and the HTTP body. That branch matches every SCIM call in the account (one Identity
  Center instance, one store), narrowed to `requestParameters.tenantId` when scimTenantId is set,
  and never a record whose resource id is masked (the classifier skips those: NoSubject);
- renames (UpdateGroup, console UpdateGroupDisplayName and UpdateUserName) are level-triggered
  re-reads of that group or user, routed like any other membership event;
- EC2 security-group events are matched only for the security groups that matter (the policy's
  mappings and baselines, the stack's Studio group, driftSecurityGroupIds), so that a burst of
  unrelated security-group changes cannot throttle compliance-sweep.

`events/routes.json` says which function each sample in events/ reaches; infra/tests/test_routes.py
evaluates these patterns against every sample, and shared/tests/events.rs holds the classifier to
the same file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from . import iam
from .aws_context import AwsContext
from .config import StackConfig
from .functions import WardenFunction
from .queues import create_queue

CLOUDTRAIL_API_CALL = "AWS API Call via CloudTrail"
# Identity Center's own notifications: the source and the detail-types membership-sync acts on
# (shared/src/events.rs, `notification`). "User Created" and "Group Created" are left out: a
# user or group with no membership entitles nobody.
NOTIFICATION_SOURCE = "aws.identitystore"
NOTIFICATION_DETAIL_TYPES = ("User Updated", "User Deleted", "Group Updated", "Group Deleted")
SWEEP_INPUT = {"mode": "apply"}
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
# EventBridge's default quota on an event pattern's size (adjustable to 4096).
MAX_PATTERN_CHARS = 2048

MEMBERSHIP_EVENTS = {
    "identitystore.amazonaws.com": (
        "CreateGroupMembership",
        "DeleteGroupMembership",
        "DeleteUser",
        "DeleteGroup",
        "UpdateUser",
        "UpdateGroup",
    ),
    "sso-directory.amazonaws.com": (
        "AddMemberToGroup",
        "RemoveMemberFromGroup",
        "DeleteUser",
        "DeleteGroup",
        "DisableUser",
        "EnableUser",
        "UpdateUser",
        "UpdateUserName",
        "UpdateGroup",
        "UpdateGroupDisplayName",
    ),
    "identitystore-scim.amazonaws.com": (
        "PatchGroup",
        "PatchUser",
        "PutUser",
        "DeleteUser",
        "DeleteGroup",
    ),
}
SOURCES_WITH_STORE_ID = ("identitystore.amazonaws.com", "sso-directory.amazonaws.com")

DRIFT_EVENTS = {
    "sagemaker.amazonaws.com": ("UpdateDomain", "CreateUserProfile", "UpdateUserProfile", "DeleteUserProfile"),
    "ec2.amazonaws.com": (
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "ModifySecurityGroupRules",
    ),
}


def membership_event_pattern(store_id: str, store_arn: str, scim_tenant_id: str | None = None) -> dict:
    """Either alternative reaches membership-sync: the CloudTrail records, or Identity Center's
    own notifications."""
    return {"$or": [cloudtrail_membership_pattern(store_id, store_arn, scim_tenant_id), notification_pattern()]}


def notification_pattern() -> dict:
    """Identity Center's Identity Store notifications (no trail needed), by source and the
    detail-types the classifier acts on. The user guide ("Set up event notifications") asks for
    the detail-types to be named: CloudTrail's own Identity Store records share the source.

    Not narrowed to the store: the notification's `detail` fields are undocumented, and the store
    only shows in `resources` as an ARN whose presence there is inferred, not documented; a
    pattern resting on it could drop every notification without a trace. The classifier skips
    a notification whose resources name another store, and the default bus of one account
    carries one Identity Center instance's notifications."""
    return {"source": [NOTIFICATION_SOURCE], "detail-type": list(NOTIFICATION_DETAIL_TYPES)}


def cloudtrail_membership_pattern(store_id: str, store_arn: str, scim_tenant_id: str | None = None) -> dict:
    branches = []
    for source, names in MEMBERSHIP_EVENTS.items():
        branch: dict = {"eventSource": [source], "eventName": list(names)}
        if source in SOURCES_WITH_STORE_ID:
            branch["requestParameters"] = {"identityStoreId": [store_id, store_arn]}
        else:
            # The SCIM id is the subject; a masked one names nothing (the classifier skips it).
            branch["requestParameters"] = {"id": [{"anything-but": HIDDEN}]}
            if scim_tenant_id:
                branch["requestParameters"]["tenantId"] = [scim_tenant_id]
        branches.append(branch)
    return {
        "detail-type": [CLOUDTRAIL_API_CALL],
        "detail": {"errorCode": [{"exists": False}], "$or": branches},
    }


def drift_event_pattern(domain_ids: list[str], security_group_ids: list[str]) -> dict:
    """SageMaker changes to the managed domains (every one of these calls names its domain in
    requestParameters.domainId), and security-group rule changes of the groups that matter.

    A group is named in one of three places, as the classifier reads it: `groupId` (the classic
    calls), the rules an Authorize* response echoes (a default VPC's group named by
    `groupName`), or ModifySecurityGroupRules' wrapped request."""
    sagemaker, ec2 = "sagemaker.amazonaws.com", "ec2.amazonaws.com"
    branches: list[dict] = [
        {
            "eventSource": [sagemaker],
            "eventName": list(DRIFT_EVENTS[sagemaker]),
            "requestParameters": {"domainId": sorted(set(domain_ids))},
        }
    ]
    groups = sorted(set(security_group_ids))
    if groups:
        rule_calls = [n for n in DRIFT_EVENTS[ec2] if n != "ModifySecurityGroupRules"]
        branches += [
            {"eventSource": [ec2], "eventName": rule_calls, "requestParameters": {"groupId": groups}},
            {"eventSource": [ec2], "eventName": rule_calls, "responseElements": {"securityGroupRuleSet": {"items": {"groupId": groups}}}},
            {
                "eventSource": [ec2],
                "eventName": ["ModifySecurityGroupRules"],
                "requestParameters": {"ModifySecurityGroupRulesRequest": {"GroupId": groups}},
            },
        ]
    return {
        "detail-type": [CLOUDTRAIL_API_CALL],
        "detail": {"errorCode": [{"exists": False}], "$or": branches},
    }


def pattern_json(pattern: dict, rule: str) -> str:
    """The pattern as EventBridge stores it, refused before deploy when it exceeds the quota."""
    text = json.dumps(pattern, separators=(",", ":"))
    if len(text) > MAX_PATTERN_CHARS:
        raise ValueError(
            f"the {rule} rule's event pattern has {len(text)} characters, over EventBridge's default {MAX_PATTERN_CHARS}: "
            "name fewer security groups (policy mappings and baselines, driftSecurityGroupIds) or domains"
        )
    return text


@dataclass(frozen=True)
class ForeignQueue:
    """A dead-letter queue outside the stack region (its alarm must live in that region)."""

    queue: aws.sqs.Queue
    region: str
    rule: aws.cloudwatch.EventRule  # the forwarding rule there


def _rule_to_function(
    name: str, description: str, pattern: pulumi.Input[str], fn: WardenFunction, config: StackConfig, bus: pulumi.Input[str] | None = None
) -> aws.cloudwatch.EventRule:
    """A rule on the default bus (single-account), or on the hub's bus (`bus`: its name)."""
    on_bus = {"event_bus_name": bus} if bus is not None else {}
    rule = aws.cloudwatch.EventRule(
        name,
        name=f"{config.name_prefix}-{name}",
        description=description,
        event_bus_name=bus if bus is not None else "default",
        event_pattern=pattern,
        state="ENABLED",
        tags=config.tags(),
    )
    aws.cloudwatch.EventTarget(
        f"{name}-target",
        rule=rule.name,
        arn=fn.function.arn,
        **on_bus,
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=config.event_retry_attempts,
            maximum_event_age_in_seconds=config.event_max_age_seconds,
        ),
        dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=fn.delivery_dlq.arn),
        opts=pulumi.ResourceOptions(parent=rule),
    )
    aws.lambda_.Permission(
        f"{name}-invoke",
        action="lambda:InvokeFunction",
        function=fn.function.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=pulumi.ResourceOptions(parent=rule),
    )
    return rule


def _allow_rules_to_dead_letter(name: str, queue: aws.sqs.Queue, rules: list[aws.cloudwatch.EventRule], region: str | None = None) -> None:
    aws.sqs.QueuePolicy(
        f"{name}-policy",
        queue_url=queue.url,
        policy=pulumi.Output.all(queue.arn, *[r.arn for r in rules]).apply(
            lambda arns: json.dumps(iam.eventbridge_dead_letter_queue_policy(arns[0], list(arns[1:])))
        ),
        region=region,
        opts=pulumi.ResourceOptions(parent=queue),
    )


def create_membership_trigger(
    config: StackConfig, ctx: AwsContext, fn: WardenFunction
) -> tuple[aws.cloudwatch.EventRule, ForeignQueue | None]:
    """The membership rule; when Identity Center lives in another region, also the forwarder
    there, whose dead-letter queue (in that region) is returned for alarming."""
    store_id = config.policy.identity_store_id
    pattern = pattern_json(membership_event_pattern(store_id, ctx.identity_store(store_id), config.scim_tenant_id), "membership")
    description = "Identity Center membership changes (Identity Store API, console, SCIM; Identity Store notifications) -> membership-sync"
    rule = _rule_to_function("membership-events", description, pattern, fn, config)
    _allow_rules_to_dead_letter(f"{fn.name}-delivery-dlq", fn.delivery_dlq, [rule])

    home = config.identity_center_region
    if not home or home == ctx.region:
        return rule, None
    return rule, _forward_from_home_region(config, ctx, home, pattern)


def _forward_from_home_region(config: StackConfig, ctx: AwsContext, home: str, pattern: str) -> ForeignQueue:
    role = aws.iam.Role(
        "membership-forwarder-role",
        description=f"Forwards Identity Center events from {home} to the {ctx.region} default bus",
        assume_role_policy=json.dumps(iam.assume_role_policy("events.amazonaws.com", ctx.account)),
        tags=config.tags(),
    )
    aws.iam.RolePolicy(
        "membership-forwarder-policy",
        role=role.id,
        policy=json.dumps(iam.forwarder_policy(ctx.event_bus(ctx.region))),
        opts=pulumi.ResourceOptions(parent=role),
    )
    dlq = create_queue("membership-forward-dlq", config, region=home)
    rule = aws.cloudwatch.EventRule(
        "membership-events-forward",
        name=f"{config.name_prefix}-membership-events-forward",
        description=f"Identity Center membership changes in {home} -> {ctx.region} default bus",
        event_bus_name="default",
        event_pattern=pattern,
        state="ENABLED",
        region=home,
        tags=config.tags(),
    )
    aws.cloudwatch.EventTarget(
        "membership-events-forward-target",
        rule=rule.name,
        arn=ctx.event_bus(ctx.region),
        role_arn=role.arn,
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=config.event_retry_attempts,
            maximum_event_age_in_seconds=config.event_max_age_seconds,
        ),
        dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dlq.arn),
        region=home,
        opts=pulumi.ResourceOptions(parent=rule),
    )
    _allow_rules_to_dead_letter("membership-forward-dlq", dlq, [rule], region=home)
    return ForeignQueue(queue=dlq, region=home, rule=rule)


def create_drift_trigger(
    config: StackConfig,
    fn: WardenFunction,
    domain_ids: list[pulumi.Input[str]],
    security_group_ids: list[pulumi.Input[str]],
) -> aws.cloudwatch.EventRule:
    count = len(domain_ids)
    pattern = pulumi.Output.all(*domain_ids, *security_group_ids).apply(
        lambda ids: pattern_json(drift_event_pattern(list(ids[:count]), list(ids[count:])), "drift")
    )
    description = "SageMaker domain/profile and security group changes -> compliance-sweep (drift check)"
    rule = _rule_to_function("drift-events", description, pattern, fn, config)
    _allow_rules_to_dead_letter(f"{fn.name}-delivery-dlq", fn.delivery_dlq, [rule])
    return rule


def create_sweep_schedule(config: StackConfig, ctx: AwsContext, fn: WardenFunction) -> tuple[aws.scheduler.Schedule, aws.scheduler.ScheduleGroup]:
    """The sweep runs on a schedule with {"mode": "apply"}; the Scheduler's own role may invoke
    that one function and dead-letter to its queue (the Scheduler uses the role for both). The
    schedule has a group of its own, whose metrics (by ScheduleGroup) are this schedule's."""
    group = aws.scheduler.ScheduleGroup("sweep-schedule-group", name=f"{config.name_prefix}", tags=config.tags())
    role = aws.iam.Role(
        "sweep-scheduler-role",
        description="EventBridge Scheduler: invokes compliance-sweep, nothing else",
        assume_role_policy=json.dumps(iam.assume_role_policy("scheduler.amazonaws.com", ctx.account)),
        tags=config.tags(),
    )
    role_policy = aws.iam.RolePolicy(
        "sweep-scheduler-policy",
        role=role.id,
        policy=pulumi.Output.all(fn.function.arn, fn.delivery_dlq.arn).apply(
            lambda arns: json.dumps(iam.scheduler_policy(arns[0], arns[1]))
        ),
        opts=pulumi.ResourceOptions(parent=role),
    )
    schedule = aws.scheduler.Schedule(
        "sweep-schedule",
        name=f"{config.name_prefix}-sweep",
        group_name=group.name,
        state="ENABLED",
        description="Reconcile every mapped group against every managed domain",
        schedule_expression=config.sweep_schedule,
        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
        target=aws.scheduler.ScheduleTargetArgs(
            arn=fn.function.arn,
            role_arn=role.arn,
            input=json.dumps(SWEEP_INPUT),
            retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                maximum_retry_attempts=config.event_retry_attempts,
                maximum_event_age_in_seconds=config.event_max_age_seconds,
            ),
            dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=fn.delivery_dlq.arn),
        ),
        opts=pulumi.ResourceOptions(depends_on=[role_policy]),
    )
    return schedule, group


# --- Organisation deployments: forwarding to the hub's bus ---------------------------------------


def create_forwarder_role(name: str, config: StackConfig, ctx: AwsContext, hub_bus_arn: str) -> aws.iam.Role:
    """The role EventBridge uses to put this account's matched events on the hub's bus: that one
    action on that one bus, assumed only by EventBridge acting for this account. IAM is global:
    one role serves the forwarding rules of every region of the account."""
    role = aws.iam.Role(
        name,
        description="studio-warden: forwards matched events to the hub's event bus, nothing else",
        assume_role_policy=json.dumps(iam.assume_role_policy("events.amazonaws.com", ctx.account)),
        tags=config.tags(),
    )
    aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=json.dumps(iam.forwarder_policy(hub_bus_arn)),
        opts=pulumi.ResourceOptions(parent=role),
    )
    return role


def create_forward_rule(
    name: str, description: str, config: StackConfig, ctx: AwsContext, pattern: str, hub_bus_arn: str, role: aws.iam.Role, region: str
) -> aws.cloudwatch.EventRule:
    """A rule on the default bus of `region` whose target is the hub's bus (another account's:
    the target's ARN is the bus, the role is this account's forwarder)."""
    resource_region = None if region == ctx.region else region
    rule = aws.cloudwatch.EventRule(
        name,
        name=f"{config.name_prefix}-{name}",
        description=description,
        event_bus_name="default",
        event_pattern=pattern,
        state="ENABLED",
        region=resource_region,
        tags=config.tags(),
    )
    aws.cloudwatch.EventTarget(
        f"{name}-target",
        rule=rule.name,
        arn=hub_bus_arn,
        role_arn=role.arn,
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=config.event_retry_attempts,
            maximum_event_age_in_seconds=config.event_max_age_seconds,
        ),
        region=resource_region,
        opts=pulumi.ResourceOptions(parent=rule),
    )
    return rule
