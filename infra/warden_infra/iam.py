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

# What the Rust code calls (shared/src/adapters/*.rs, every `.client.xxx()`), and nothing else.
# Service Authorization Reference, Amazon SageMaker (list_amazonsagemaker).
OWNERSHIP_TAG = "studio-warden:managed"
RESERVED_TAG_KEYS = "studio-warden:*"  # the warden's own tags: never added or removed after creation ...
SUSPENDED_TAG = "studio-warden:suspended"  # ... but this one, on its own: the first stage of offboarding
# The exact SageMaker action set of both functions (plus sagemaker:CreateSpace when a mapping asks
# for a private space, PRIVATE_SPACE_ACTIONS); test_iam pins it.
SAGEMAKER_ACTIONS = (
    "sagemaker:DescribeDomain",
    "sagemaker:ListUserProfiles",
    "sagemaker:ListApps",
    "sagemaker:ListSpaces",
    "sagemaker:DescribeUserProfile",
    "sagemaker:ListTags",
    "sagemaker:CreateUserProfile",
    "sagemaker:UpdateUserProfile",
    "sagemaker:DeleteUserProfile",
    "sagemaker:AddTags",
    "sagemaker:DeleteTags",
    "sagemaker:DeleteApp",
    "sagemaker:DeleteSpace",
)
PRIVATE_SPACE_ACTIONS = ("sagemaker:CreateSpace",)
# list_amazonsagemaker: ListUserProfiles, ListApps and ListSpaces list "Resource types: (none)",
# so they must be granted on "*". All three are read-only (access level List).
SAGEMAKER_UNSCOPABLE_READS = (
    "sagemaker:ListUserProfiles",
    "sagemaker:ListApps",
    "sagemaker:ListSpaces",
)
# list_awsidentitystore: each read requires the Identitystore resource plus the User, Group,
# GroupMembership or All* entity types; none of these writes. Exactly what identitystore.rs calls.
IDENTITY_STORE_READS = (
    "identitystore:DescribeUser",
    "identitystore:DescribeGroup",
    "identitystore:GetGroupId",
    "identitystore:ListUsers",
    "identitystore:ListGroupMemberships",
    "identitystore:ListGroupMembershipsForMember",
)
# list_awsiamidentitycenter: both take the Application resource type (required).
SSO_ASSIGNMENT_ACTIONS = (
    "sso:CreateApplicationAssignment",
    "sso:DeleteApplicationAssignment",
)
# list_amazondynamodb: TransactWriteItems has no action of its own; it is authorized as the
# per-item action of each element, and the ledger's transactions hold Put elements only.
LEDGER_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
)
# list_amazonec2: the Describe* actions support no resource-level permission ("*" only).
NETWORK_UNSCOPABLE_READS = (
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeRouteTables",
    "ec2:DescribeVpcEndpoints",
)
# What DynamoDB asks KMS for on the caller's behalf when a table uses a customer managed key.
LEDGER_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey")
# What SNS asks KMS for when a publisher writes to an encrypted topic.
TOPIC_KEY_ACTIONS = ("kms:GenerateDataKey*", "kms:Decrypt")
# What a Studio space's EBS volume and the domain's EFS need from the domain key, asked for by
# SageMaker and EC2 on the execution role's behalf.
STUDIO_KEY_ACTIONS = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*")
SPACE_SHARING_TYPES = ("Private", "Shared")


def statement(sid: str, actions, resources, condition: dict | None = None, effect: str = "Allow") -> dict:
    stmt = {"Sid": sid, "Effect": effect, "Action": sorted(actions), "Resource": resources}
    if condition:
        stmt["Condition"] = condition
    return stmt


def document(*statements: dict | None) -> dict:
    return {"Version": VERSION, "Statement": [s for s in statements if s]}


def assume_role_policy(service: str, source_account: str | None = None, set_source_identity: bool = False) -> dict:
    """Trust for one AWS service; with `source_account`, only when it acts for this account
    (confused-deputy guard, for services that set aws:SourceAccount: EventBridge, Scheduler);
    with `set_source_identity`, the service may also set the session's source identity
    (SageMaker Studio's ExecutionRoleIdentityConfig = USER_PROFILE_NAME)."""
    action = ["sts:AssumeRole", "sts:SetSourceIdentity"] if set_source_identity else "sts:AssumeRole"
    trust = {"Effect": "Allow", "Principal": {"Service": service}, "Action": action}
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
    # [offboarding] shared_spaces: "delete" lets offboarding delete the user's shared spaces too.
    shared_spaces: str = "keep"
    # A mapping asks for a private space at onboarding ([mappings.private_space]).
    create_private_spaces: bool = False


def deletable_space_types(shared_spaces: str) -> list[str]:
    """The space sharing types offboarding may delete (with their apps): the user's private
    spaces always, the user's shared spaces only under `[offboarding] shared_spaces = "delete"`."""
    return ["Private", "Shared"] if shared_spaces == "delete" else ["Private"]


def sagemaker_statements(
    domains: list[tuple[AwsContext, str]], shared_spaces: str = "keep", create_private_spaces: bool = False
) -> list[dict | None]:
    """The SageMaker grants of the functions, on the given managed domains: each domain is a
    (context of its partition, account and region, domain id) pair. The single-account stack
    passes its own context for every domain; a spoke role its account's; the hub its own
    account's domains (any region)."""
    places = sorted({(c.partition, c.account, c.region, d): (c, d) for c, d in domains}.items())
    if not places:
        raise ValueError("a warden function needs at least one managed domain")
    pairs = [pair for _, pair in places]
    profiles = [c.sagemaker_in_domain("user-profile", d) for c, d in pairs]
    apps = [c.sagemaker_in_domain("app", d) for c, d in pairs]
    spaces = [c.sagemaker_in_domain("space", d) for c, d in pairs]
    owners = profiles  # sagemaker:OwnerUserProfileArn: a profile of a managed domain
    owned = {"ArnLike": {"sagemaker:OwnerUserProfileArn": owners}}
    owned_of_type = {**owned, "StringEquals": {"sagemaker:SpaceSharingType": deletable_space_types(shared_spaces)}}
    managed = {f"aws:ResourceTag/{OWNERSHIP_TAG}": "true"}

    return [
        statement("DescribeManagedDomains", ["sagemaker:DescribeDomain"], [c.sagemaker_domain(d) for c, d in pairs]),
        statement("ReadProfilesInManagedDomains", ["sagemaker:DescribeUserProfile", "sagemaker:ListTags"], profiles),
        # The ownership guard, as IAM evaluates it: a profile is created only with the tag ...
        statement(
            "CreateOnlyOwnedProfiles",
            ["sagemaker:CreateUserProfile"],
            profiles,
            {"StringEquals": {f"aws:RequestTag/{OWNERSHIP_TAG}": "true"}},
        ),
        # ... whose tagging SageMaker authorizes as AddTags with TaggingAction = CreateUserProfile
        # (tag-on-create), so AddTags itself can never put the tag on an existing profile ...
        statement(
            "TagProfilesOnlyWhileCreatingThem",
            ["sagemaker:AddTags"],
            profiles,
            {
                "StringEquals": {
                    "sagemaker:TaggingAction": "CreateUserProfile",
                    f"aws:RequestTag/{OWNERSHIP_TAG}": "true",
                }
            },
        ),
        # ... only a profile that carries it can be changed or deleted ...
        statement("ChangeOnlyOwnedProfiles", ["sagemaker:UpdateUserProfile", "sagemaker:DeleteUserProfile"], profiles, {"StringEquals": managed}),
        # ... and a mapping's tags are reconciled on owned profiles only, never the reserved keys.
        statement(
            "ReconcileMappingTagsOnOwnedProfiles",
            ["sagemaker:AddTags", "sagemaker:DeleteTags"],
            profiles,
            {
                "StringEquals": managed,
                "ForAllValues:StringNotLike": {"aws:TagKeys": RESERVED_TAG_KEYS},
                "Null": {"aws:TagKeys": "false", "sagemaker:TaggingAction": "true"},
            },
        ),
        # The suspension (offboarding's first stage) marks an owned profile, and a restore
        # unmarks it: exactly that one reserved key, alone in its request, never at creation.
        statement(
            "MarkOwnedProfilesSuspended",
            ["sagemaker:AddTags", "sagemaker:DeleteTags"],
            profiles,
            {
                "StringEquals": managed,
                "ForAllValues:StringEquals": {"aws:TagKeys": [SUSPENDED_TAG]},
                "Null": {"aws:TagKeys": "false", "sagemaker:TaggingAction": "true"},
            },
        ),
        # Offboarding deletes the apps of a profile (no space owner) ...
        statement("DeleteProfileApps", ["sagemaker:DeleteApp"], apps, {"Null": {"sagemaker:OwnerUserProfileArn": "true"}}),
        # ... and the spaces a profile owns, with their apps, of the sharing types the policy allows.
        statement("DeleteOwnedSpaceApps", ["sagemaker:DeleteApp"], apps, owned_of_type),
        statement("DeleteOwnedSpaces", ["sagemaker:DeleteSpace"], spaces, owned_of_type),
        # Onboarding creates the private space a mapping asks for: private, owned by a profile of
        # a managed domain, and only when the policy asks for one. (No tags are sent with it, so
        # no AddTags with TaggingAction = CreateSpace is needed.)
        statement(
            "CreatePrivateSpacesOfProfiles",
            ["sagemaker:CreateSpace"],
            spaces,
            {**owned, "StringEquals": {"sagemaker:SpaceSharingType": ["Private"]}},
        )
        if create_private_spaces
        else None,
        statement("SageMakerListsWithoutResourceLevelPermissions", SAGEMAKER_UNSCOPABLE_READS, "*"),
    ]


def pass_role_statement(execution_roles: list[str]) -> dict | None:
    return (
        statement(
            "PassOnlyPolicyExecutionRolesToSageMaker",
            ["iam:PassRole"],
            sorted(set(execution_roles)),
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
        if execution_roles
        else None
    )


def identity_center_statements(ctx: AwsContext, store_arn: str, sso_application_arns: list[str]) -> list[dict | None]:
    """Identity Store reads on the one store, and SSO assignments on the domains' applications."""
    return [
        statement("ReadTheIdentityStore", IDENTITY_STORE_READS, [store_arn, *ctx.identity_store_entities()]),
        statement("AssignUsersToDomainApplications", SSO_ASSIGNMENT_ACTIONS, sorted(set(sso_application_arns)))
        if sso_application_arns
        else None,
    ]


def network_statement() -> dict:
    return statement("DescribeNetworkWithoutResourceLevelPermissions", NETWORK_UNSCOPABLE_READS, "*")


def ledger_and_alert_statements(ctx: AwsContext, table_arn: str, data_key_arn: str, topic_arn: str, alerts_key_arn: str) -> list[dict]:
    return [
        statement("LedgerItems", LEDGER_ACTIONS, table_arn),
        statement(
            "LedgerKeyThroughDynamoDB",
            LEDGER_KEY_ACTIONS,
            data_key_arn,
            {"StringEquals": {"kms:ViaService": ctx.service_host("dynamodb")}},
        ),
        statement("PublishAlerts", ["sns:Publish"], topic_arn),
        statement(
            "AlertKeyThroughSns",
            TOPIC_KEY_ACTIONS,
            alerts_key_arn,
            {"StringEquals": {"kms:ViaService": ctx.service_host("sns")}},
        ),
    ]


def own_log_and_failure_queue_statements(log_group_arn: str, failure_queue_arn: str) -> list[dict]:
    return [
        statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], f"{log_group_arn}:*"),
        statement("SendFailedInvocationsToOwnQueue", ["sqs:SendMessage"], failure_queue_arn),
    ]


def function_policy(scope: FunctionScope) -> dict:
    ctx = scope.ctx
    return document(
        *sagemaker_statements([(ctx, d) for d in scope.domain_ids], scope.shared_spaces, scope.create_private_spaces),
        pass_role_statement(scope.execution_roles),
        *identity_center_statements(ctx, ctx.identity_store(scope.identity_store_id), scope.sso_application_arns),
        *ledger_and_alert_statements(ctx, scope.table_arn, scope.data_key_arn, scope.topic_arn, scope.alerts_key_arn),
        network_statement(),
        *own_log_and_failure_queue_statements(scope.log_group_arn, scope.failure_queue_arn),
    )


def studio_execution_policy(ctx: AwsContext, domain_id: str, key_arn: str) -> dict:
    """The default execution role of a domain this stack creates: per-user isolation.

    AmazonSageMakerFullAccess would let every Studio user act on every SageMaker resource in the
    account. This role lets a user run apps and spaces in this domain only, and only their own:
    the domain sets ExecutionRoleIdentityConfig = USER_PROFILE_NAME, so SageMaker assumes the
    role with the user's profile name as the session's source identity, and every write below
    is tied to `${aws:SourceIdentity}` through SageMaker's `OwnerUserProfileArn` condition key
    (spaces and space apps) or the profile's own ARN path (profile apps). This follows AWS's
    documented pattern for private spaces (owner = the user's profile), with the user's profile
    taken from the source identity instead of one role per user.
    """
    me = f"{ctx.sagemaker_in_domain('user-profile', domain_id)[:-1]}${{aws:SourceIdentity}}"
    apps = ctx.sagemaker_in_domain("app", domain_id)
    spaces = ctx.sagemaker_in_domain("space", domain_id)
    return document(
        statement("DescribeThisDomain", ["sagemaker:DescribeDomain"], ctx.sagemaker_domain(domain_id)),
        statement(
            "ReadProfilesAppsSpacesInThisDomain",
            ["sagemaker:DescribeUserProfile", "sagemaker:DescribeApp", "sagemaker:DescribeSpace", "sagemaker:ListTags"],
            [ctx.sagemaker_in_domain(kind, domain_id) for kind in ("user-profile", "app", "space")],
        ),
        # Apps of the user's own profile: app/<domain>/<profile>/<type>/<name>, no space owner.
        statement(
            "OwnProfileApps",
            ["sagemaker:CreateApp", "sagemaker:DeleteApp"],
            f"{apps[:-1]}${{aws:SourceIdentity}}/*",
            {"Null": {"sagemaker:OwnerUserProfileArn": "true"}},
        ),
        # Apps of the user's own private spaces.
        statement(
            "OwnPrivateSpaceApps",
            ["sagemaker:CreateApp", "sagemaker:DeleteApp"],
            apps,
            {"ArnEquals": {"sagemaker:OwnerUserProfileArn": me}, "StringEquals": {"sagemaker:SpaceSharingType": "Private"}},
        ),
        # Apps of shared spaces: sharing a space means its members run its apps together.
        statement(
            "SharedSpaceApps",
            ["sagemaker:CreateApp", "sagemaker:DeleteApp"],
            apps,
            {"StringEquals": {"sagemaker:SpaceSharingType": "Shared"}},
        ),
        # Spaces: only the user's own, private or shared; never an owner-less space.
        statement(
            "OwnSpaces",
            ["sagemaker:CreateSpace", "sagemaker:UpdateSpace", "sagemaker:DeleteSpace"],
            spaces,
            {"ArnEquals": {"sagemaker:OwnerUserProfileArn": me}, "StringEquals": {"sagemaker:SpaceSharingType": list(SPACE_SHARING_TYPES)}},
        ),
        # Studio tags what it creates: AddTags only as part of creating an app or space.
        statement(
            "TagAppsAndSpacesOnlyOnCreate",
            ["sagemaker:AddTags"],
            [apps, spaces],
            {"StringEquals": {"sagemaker:TaggingAction": ["CreateApp", "CreateSpace"]}},
        ),
        statement("SageMakerListsWithoutResourceLevelPermissions", SAGEMAKER_UNSCOPABLE_READS, "*"),
        # The domain's key encrypts the space volumes (EBS) and home directories (EFS).
        statement(
            "DomainKeyThroughSageMakerAndEc2",
            [a for a in STUDIO_KEY_ACTIONS if a != "kms:CreateGrant"],
            key_arn,
            {"StringEquals": {"kms:ViaService": [ctx.service_host("sagemaker"), ctx.service_host("ec2")]}},
        ),
        statement(
            "DomainKeyGrantsForAwsResourcesOnly",
            ["kms:CreateGrant"],
            key_arn,
            {
                "StringEquals": {"kms:ViaService": [ctx.service_host("sagemaker"), ctx.service_host("ec2")]},
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            },
        ),
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
    means this key); the given AWS services may only encrypt and decrypt for this account.

    Only services whose KMS requests carry aws:SourceAccount belong here (CloudWatch alarms
    publishing to the encrypted topic). EventBridge's do not (AWS's EventBridge-to-encrypted-topic
    guidance), so an EventBridge grant with this condition would never apply: the stack has none,
    and no rule publishes to the topic."""
    return document(
        {
            "Sid": "AccountAdministersTheKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": ctx.iam_root()},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AlarmsPublishingToTheEncryptedTopic",
            "Effect": "Allow",
            "Principal": {"Service": sorted(service_principals)},
            "Action": sorted(TOPIC_KEY_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account}},
        }
        if service_principals
        else None,
    )


# --- Organisation deployments (issue 14): hub, spokes, Identity Center account ---------------------
# What the functions call on the work queue: the fan-out sends, the event source mapping (with
# the function's role) receives, deletes, reads attributes, and the worker hands unfinished work
# on by changing a message's visibility.
WORK_QUEUE_ACTIONS = (
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
)


@dataclass(frozen=True)
class HubScope:
    """The resources one hub function acts on. Domains elsewhere are reached through the roles
    it may assume; `local_domains` are the hub account's own (any region), acted on directly."""

    ctx: AwsContext
    local_domains: list[tuple[AwsContext, str]]
    local_execution_roles: list[str]
    identity_store_arn: str | None  # None: the Identity Store is read through the identity role
    sso_application_arns: list[str]
    table_arn: str
    topic_arn: str
    data_key_arn: str
    alerts_key_arn: str
    log_group_arn: str
    failure_queue_arn: str
    assumable_role_arns: list[str]
    org_id: str
    work_queue_arn: str | None = None  # compliance-sweep only
    shared_spaces: str = "keep"
    create_private_spaces: bool = False


def assume_statement(role_arns: list[str], org_id: str) -> dict | None:
    """sts:AssumeRole on exactly these roles, and only while they belong to the organisation
    (aws:ResourceOrgID: the organisation of the account that owns the role)."""
    if not role_arns:
        return None
    return statement(
        "AssumeOnlyWardenRolesInTheOrganisation",
        ["sts:AssumeRole"],
        sorted(set(role_arns)),
        {"StringEquals": {"aws:ResourceOrgID": org_id}},
    )


def hub_function_policy(scope: HubScope) -> dict:
    ctx = scope.ctx
    local = bool(scope.local_domains)
    return document(
        *(sagemaker_statements(scope.local_domains, scope.shared_spaces, scope.create_private_spaces) if local else []),
        pass_role_statement(scope.local_execution_roles) if local else None,
        *(identity_center_statements(ctx, scope.identity_store_arn, scope.sso_application_arns) if scope.identity_store_arn else []),
        *ledger_and_alert_statements(ctx, scope.table_arn, scope.data_key_arn, scope.topic_arn, scope.alerts_key_arn),
        network_statement() if local else None,
        *own_log_and_failure_queue_statements(scope.log_group_arn, scope.failure_queue_arn),
        assume_statement(scope.assumable_role_arns, scope.org_id),
        statement("FanOutAndWorkTheQueue", WORK_QUEUE_ACTIONS, scope.work_queue_arn) if scope.work_queue_arn else None,
    )


def spoke_role_policy(
    domains: list[tuple[AwsContext, str]], execution_roles: list[str], shared_spaces: str = "keep", create_private_spaces: bool = False
) -> dict:
    """A spoke account's role: the functions' SageMaker and EC2 grants on that account's
    managed domains (every region of it), and PassRole of their execution roles."""
    return document(
        *sagemaker_statements(domains, shared_spaces, create_private_spaces),
        pass_role_statement(execution_roles),
        network_statement(),
    )


def identity_role_policy(ctx: AwsContext, store_id: str, sso_application_arns: list[str]) -> dict:
    """The Identity Center account's role: the functions' Identity Store reads and application
    assignments, on this account's store and the domains' applications."""
    return document(*identity_center_statements(ctx, ctx.identity_store(store_id), sso_application_arns))


def cross_account_trust(principal_arns: list[str], org_id: str) -> dict:
    """Trust exactly these roles (the hub's functions), and only while their account is in the
    organisation."""
    return document(
        {
            "Sid": "TheHubFunctionsOfTheOrganisation",
            "Effect": "Allow",
            "Principal": {"AWS": sorted(set(principal_arns))},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
        }
    )


def hub_bus_policy(bus_arn: str, org_id: str) -> dict:
    """The hub bus admits events:PutEvents from principals of the organisation, nothing else."""
    return document(
        {
            "Sid": "PutEventsFromTheOrganisationOnly",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": bus_arn,
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
        }
    )
