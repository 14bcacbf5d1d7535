"""Every IAM document in the stack, as plain functions of resolved ARNs.

Least privilege, derived from the policy file: SageMaker actions on the managed domains only,
iam:PassRole on the execution roles the policy names, Identity Store reads on the one store, SSO
application assignments on the domains' applications, and each service action on the one table,
topic, key, queue or log group it needs. `*` appears only on actions that support no resource-level
permission; each such statement cites its Service Authorization Reference page.
"""

from __future__ import annotations

from dataclasses import dataclass

from .aws_context import AwsContext

VERSION = "2012-10-17"

# Service Authorization Reference, Amazon SageMaker (list_amazonsagemaker): every action below
# takes a user-profile, app or space resource, so each is scoped to the managed domains.
# Exactly what the functions call: they create, describe, update and delete user profiles, and
# delete (never create) the apps and private spaces of users they offboard.
SAGEMAKER_STUDIO_ACTIONS = (
    "sagemaker:CreateUserProfile",
    "sagemaker:DescribeUserProfile",
    "sagemaker:UpdateUserProfile",
    "sagemaker:DeleteUserProfile",
    "sagemaker:DeleteApp",
    "sagemaker:DeleteSpace",
)
# studio-warden's ownership tag. IAM enforces the functions' first safety rule too: a profile is
# created only with the tag (aws:RequestTag), and only a profile that carries it
# (aws:ResourceTag) can be updated or deleted: an unmanaged profile is out of reach.
OWNERSHIP_TAG = "studio-warden:managed"
SAGEMAKER_CREATE_TAGGED = ("sagemaker:CreateUserProfile",)
SAGEMAKER_CHANGE_TAGGED = ("sagemaker:UpdateUserProfile", "sagemaker:DeleteUserProfile")
SAGEMAKER_TAG_ACTIONS = ("sagemaker:AddTags", "sagemaker:ListTags", "sagemaker:DeleteTags")
# list_amazonsagemaker: ListUserProfiles, ListApps, ListSpaces and ListDomains list "Resource
# types: (none)", so they must be granted on "*". All four are read-only (access level List).
SAGEMAKER_UNSCOPABLE_READS = (
    "sagemaker:ListDomains",
    "sagemaker:ListUserProfiles",
    "sagemaker:ListApps",
    "sagemaker:ListSpaces",
)
# list_awsidentitystore: each read requires the Identitystore resource plus the User, Group,
# GroupMembership or All* entity types; none of these writes.
IDENTITY_STORE_READS = (
    "identitystore:DescribeUser",
    "identitystore:DescribeGroup",
    "identitystore:DescribeGroupMembership",
    "identitystore:GetUserId",
    "identitystore:GetGroupId",
    "identitystore:GetGroupMembershipId",
    "identitystore:IsMemberInGroups",
    "identitystore:ListUsers",
    "identitystore:ListGroups",
    "identitystore:ListGroupMemberships",
    "identitystore:ListGroupMembershipsForMember",
)
# list_awsiamidentitycenter: the three take the Application resource type (required).
SSO_ASSIGNMENT_ACTIONS = (
    "sso:CreateApplicationAssignment",
    "sso:DeleteApplicationAssignment",
    "sso:ListApplicationAssignments",
)
# list_amazondynamodb: TransactWriteItems is authorized as ConditionCheckItem, PutItem,
# UpdateItem and DeleteItem on each item, so it needs no action of its own.
LEDGER_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)
# list_amazonec2: the Describe* actions support no resource-level permission ("*" only).
NETWORK_UNSCOPABLE_READS = (
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeSubnets",
    "ec2:DescribeRouteTables",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcs",
    "ec2:DescribeNetworkInterfaces",
)
# What DynamoDB asks KMS for on the caller's behalf when a table uses a customer managed key.
LEDGER_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey")
# What SNS asks KMS for when a publisher writes to an encrypted topic.
TOPIC_KEY_ACTIONS = ("kms:GenerateDataKey*", "kms:Decrypt")


def statement(sid: str, actions, resources, condition: dict | None = None, effect: str = "Allow") -> dict:
    stmt = {"Sid": sid, "Effect": effect, "Action": sorted(actions), "Resource": resources}
    if condition:
        stmt["Condition"] = condition
    return stmt


def document(*statements: dict | None) -> dict:
    return {"Version": VERSION, "Statement": [s for s in statements if s]}


def assume_role_policy(service: str, source_account: str | None = None) -> dict:
    """Trust for one AWS service; with `source_account`, only when it acts for this account
    (confused-deputy guard, for services that set aws:SourceAccount: EventBridge, Scheduler)."""
    trust = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return document(trust)


@dataclass(frozen=True)
class FunctionScope:
    """The resources one warden function acts on, resolved to ARNs."""

    ctx: AwsContext
    domain_ids: list[str]
    execution_roles: list[str]
    identity_store_id: str
    sso_application_arns: list[str]
    table_arn: str
    topic_arn: str
    data_key_arn: str
    alerts_key_arn: str
    log_group_arn: str
    failure_queue_arn: str


def function_policy(scope: FunctionScope) -> dict:
    ctx = scope.ctx
    domains = sorted(set(scope.domain_ids))
    if not domains:
        raise ValueError("a warden function needs at least one managed domain")
    in_domains = [ctx.sagemaker_in_domain(kind, d) for d in domains for kind in ("user-profile", "app", "space")]
    domain_arns = [ctx.sagemaker_domain(d) for d in domains]

    return document(
        statement("DescribeManagedDomains", ["sagemaker:DescribeDomain"], domain_arns),
        statement(
            "ManageProfilesAppsSpacesInManagedDomains",
            [a for a in SAGEMAKER_STUDIO_ACTIONS if a not in SAGEMAKER_CREATE_TAGGED + SAGEMAKER_CHANGE_TAGGED],
            in_domains,
        ),
        statement(
            "CreateOnlyOwnedProfiles",
            SAGEMAKER_CREATE_TAGGED,
            in_domains,
            {"StringEquals": {f"aws:RequestTag/{OWNERSHIP_TAG}": "true"}},
        ),
        statement(
            "ChangeOnlyOwnedProfiles",
            SAGEMAKER_CHANGE_TAGGED,
            in_domains,
            {"StringEquals": {f"aws:ResourceTag/{OWNERSHIP_TAG}": "true"}},
        ),
        statement("TagProfilesAppsSpacesInManagedDomains", SAGEMAKER_TAG_ACTIONS, in_domains),
        statement("ReadManagedDomainTags", ["sagemaker:ListTags"], domain_arns),
        statement("SageMakerListsWithoutResourceLevelPermissions", SAGEMAKER_UNSCOPABLE_READS, "*"),
        statement(
            "PassOnlyPolicyExecutionRolesToSageMaker",
            ["iam:PassRole"],
            sorted(set(scope.execution_roles)),
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
        if scope.execution_roles
        else None,
        statement(
            "ReadTheIdentityStore",
            IDENTITY_STORE_READS,
            [ctx.identity_store(scope.identity_store_id), *ctx.identity_store_entities()],
        ),
        statement("AssignUsersToDomainApplications", SSO_ASSIGNMENT_ACTIONS, sorted(set(scope.sso_application_arns)))
        if scope.sso_application_arns
        else None,
        statement("LedgerItems", LEDGER_ACTIONS, [scope.table_arn, f"{scope.table_arn}/index/*"]),
        statement(
            "LedgerKeyThroughDynamoDB",
            LEDGER_KEY_ACTIONS,
            scope.data_key_arn,
            {"StringEquals": {"kms:ViaService": ctx.service_host("dynamodb")}},
        ),
        statement("PublishAlerts", ["sns:Publish"], scope.topic_arn),
        statement(
            "AlertKeyThroughSns",
            TOPIC_KEY_ACTIONS,
            scope.alerts_key_arn,
            {"StringEquals": {"kms:ViaService": ctx.service_host("sns")}},
        ),
        statement("DescribeNetworkWithoutResourceLevelPermissions", NETWORK_UNSCOPABLE_READS, "*"),
        statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], f"{scope.log_group_arn}:*"),
        statement("SendFailedInvocationsToOwnQueue", ["sqs:SendMessage"], scope.failure_queue_arn),
    )


def studio_execution_policy(ctx: AwsContext, domain_id: str) -> dict:
    """The default execution role of a domain this stack creates.

    AmazonSageMakerFullAccess would let every Studio user act on every SageMaker resource in the
    account. A domain's default role only has to let Studio run the user's own apps and spaces
    in this domain and write their logs; team roles (with data access) come from the policy
    file's mappings.
    """
    in_domain = [ctx.sagemaker_in_domain(kind, domain_id) for kind in ("app", "space")]
    return document(
        statement("DescribeThisDomain", ["sagemaker:DescribeDomain"], ctx.sagemaker_domain(domain_id)),
        statement(
            "ReadProfilesInThisDomain",
            ["sagemaker:DescribeUserProfile", "sagemaker:ListTags"],
            ctx.sagemaker_in_domain("user-profile", domain_id),
        ),
        statement(
            "RunAppsAndSpacesInThisDomain",
            [
                "sagemaker:CreateApp",
                "sagemaker:DeleteApp",
                "sagemaker:DescribeApp",
                "sagemaker:CreateSpace",
                "sagemaker:UpdateSpace",
                "sagemaker:DeleteSpace",
                "sagemaker:DescribeSpace",
                "sagemaker:AddTags",
                "sagemaker:ListTags",
            ],
            in_domain,
        ),
        statement("SageMakerListsWithoutResourceLevelPermissions", SAGEMAKER_UNSCOPABLE_READS, "*"),
        statement(
            "WriteStudioLogs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            [ctx.log_group("/aws/sagemaker/studio"), ctx.log_group("/aws/sagemaker/studio") + ":*"],
        ),
    )


def scheduler_policy(function_arn: str, dead_letter_queue_arn: str) -> dict:
    return document(
        statement("InvokeTheSweepOnly", ["lambda:InvokeFunction"], function_arn),
        statement("DeadLetterUndeliveredSchedules", ["sqs:SendMessage"], dead_letter_queue_arn),
    )


def forwarder_policy(event_bus_arn: str) -> dict:
    return document(statement("ForwardToStackRegionBus", ["events:PutEvents"], event_bus_arn))


def eventbridge_dead_letter_queue_policy(queue_arn: str, rule_arns: list[str]) -> dict:
    return document(
        {
            "Sid": "EventBridgeRulesOfThisStack",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
        }
    )


def alert_topic_policy(ctx: AwsContext, topic_arn: str, region: str) -> dict:
    return document(
        {
            "Sid": "CloudWatchAlarmsOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "ArnLike": {"aws:SourceArn": ctx.alarm_arns(region)},
                "StringEquals": {"aws:SourceAccount": ctx.account},
            },
        },
        {
            "Sid": "DenyUnencryptedTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )


def key_policy(ctx: AwsContext, service_principals: tuple[str, ...] = ()) -> dict:
    """A key policy: the account administers the key through IAM (in a key policy, Resource "*"
    means this key); the given AWS services may only encrypt and decrypt for this account."""
    return document(
        {
            "Sid": "AccountAdministersTheKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": ctx.iam_root()},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "ServicesPublishingToTheEncryptedTopic",
            "Effect": "Allow",
            "Principal": {"Service": sorted(service_principals)},
            "Action": sorted(TOPIC_KEY_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account}},
        }
        if service_principals
        else None,
    )
