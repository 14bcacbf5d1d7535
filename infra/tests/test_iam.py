"""Least privilege, derived from the policy file, for both function roles and the whole stack."""

import json

import pytest

from support import actions_on, as_list, grants, is_read_only, resources_granted, statements

ACCOUNT = "111122223333"
REGION = "us-east-1"
FUNCTION_ROLES = ("membership-sync-role", "compliance-sweep-role")
POLICY_ROLES = {
    "arn:aws:iam::111122223333:role/studio-research",
    "arn:aws:iam::111122223333:role/teams/studio-research-leads",
    "arn:aws:iam::111122223333:role/studio-platform",
}
PLATFORM_DOMAIN = "d-7kq2xw9rtl3m"

# Actions the Service Authorization Reference lists with no resource type ("*" required).
# list_amazonsagemaker: ListDomains, ListUserProfiles, ListApps, ListSpaces; list_amazonec2: Describe*.
WILDCARD_ALLOWED = {
    "sagemaker:ListDomains",
    "sagemaker:ListUserProfiles",
    "sagemaker:ListApps",
    "sagemaker:ListSpaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeSubnets",
    "ec2:DescribeRouteTables",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcs",
    "ec2:DescribeNetworkInterfaces",
}


def managed_domains(stack):
    return {stack.one("aws:sagemaker/domain:Domain").outputs["id"], PLATFORM_DOMAIN}


def identity_policies(stack):
    """Identity-based documents, however declared: role inline policies (standalone or on the
    role) and customer managed policies. Trust, key, queue and topic policies are not here."""
    docs = [(r.name, json.loads(r.inputs["policy"])) for r in stack.of_type("aws:iam/rolePolicy:RolePolicy")]
    docs += [(r.name, json.loads(r.inputs["policy"])) for r in stack.of_type("aws:iam/policy:Policy")]
    for role in stack.of_type("aws:iam/role:Role"):
        docs += [(f"{role.name} inline", json.loads(p["policy"])) for p in role.inputs.get("inlinePolicies") or []]
    return docs


def test_no_role_carries_a_managed_policy_the_tests_cannot_read(stack):
    """AWS managed policies (AWSLambdaBasicExecutionRole, AmazonSageMakerFullAccess...) grant
    on "*"; every permission in the stack must be an inline document the tests can inspect."""
    for role in stack.of_type("aws:iam/role:Role"):
        assert not role.inputs.get("managedPolicyArns"), f"{role.name} attaches managed policies"
    for typ in ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment"):
        assert not stack.of_type(typ), f"the stack attaches policies with {typ}"


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_pass_role_only_for_the_policy_execution_roles_and_only_to_sagemaker(stack, role):
    doc = stack.role_policy(role)
    passes = grants(doc, "iam:PassRole")
    assert len(passes) == 1
    assert set(as_list(passes[0]["Resource"])) == POLICY_ROLES
    assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_profiles_are_created_only_tagged_and_changed_only_when_owned(stack, role):
    """IAM backs the functions' first safety rule: an unmanaged profile cannot be updated or
    deleted, and no profile can be created without the ownership tag."""
    doc = stack.role_policy(role)
    for action in ("sagemaker:UpdateUserProfile", "sagemaker:DeleteUserProfile"):
        for stmt in grants(doc, action):
            assert stmt.get("Condition") == {"StringEquals": {"aws:ResourceTag/studio-warden:managed": "true"}}, (action, stmt)
        assert grants(doc, action), action
    creates = grants(doc, "sagemaker:CreateUserProfile")
    assert creates
    for stmt in creates:
        assert stmt.get("Condition") == {"StringEquals": {"aws:RequestTag/studio-warden:managed": "true"}}, stmt


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_the_functions_cannot_create_apps_or_spaces(stack, role):
    doc = stack.role_policy(role)
    for action in ("sagemaker:CreateApp", "sagemaker:CreateSpace", "sagemaker:UpdateSpace"):
        assert not grants(doc, action), action


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_sagemaker_actions_are_scoped_to_the_managed_domains(stack, role):
    doc = stack.role_policy(role)
    domains = managed_domains(stack)
    allowed = {f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:domain/{d}" for d in domains}
    allowed |= {f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{d}/*" for d in domains for kind in ("user-profile", "app", "space")}
    for action in sorted(actions_on(doc, "sagemaker:")):
        resources = resources_granted(doc, action)
        if action in WILDCARD_ALLOWED:
            assert resources == {"*"}
        else:
            assert resources and resources <= allowed, f"{action} on {resources - allowed}"
    for action in ("sagemaker:CreateUserProfile", "sagemaker:DeleteUserProfile", "sagemaker:DeleteApp", "sagemaker:DeleteSpace"):
        assert resources_granted(doc, action), f"{role} lacks {action}"
    assert "sagemaker:UpdateDomain" not in actions_on(doc, "sagemaker:")
    assert resources_granted(doc, "sagemaker:DescribeDomain") == {f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:domain/{d}" for d in domains}


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_identity_store_is_read_only_and_limited_to_the_store(stack, role):
    doc = stack.role_policy(role)
    actions = actions_on(doc, "identitystore:")
    assert actions and all(is_read_only(a) or a == "identitystore:IsMemberInGroups" for a in actions)
    for action in actions:
        resources = resources_granted(doc, action)
        assert f"arn:aws:identitystore::{ACCOUNT}:identitystore/d-9067c2a1b3" in resources
        assert resources <= {
            f"arn:aws:identitystore::{ACCOUNT}:identitystore/d-9067c2a1b3",
            "arn:aws:identitystore:::user/*",
            "arn:aws:identitystore:::group/*",
            "arn:aws:identitystore:::membership/*",
        }


def test_sso_assignments_only_on_the_domain_application(stack, sso_stack, synth):
    assert not actions_on(stack.role_policy("membership-sync-role"), "sso:"), "an IAM-mode domain needs no SSO assignment"
    doc = sso_stack.role_policy("membership-sync-role")
    app = sso_stack.one("aws:sagemaker/domain:Domain").outputs["singleSignOnApplicationArn"]
    assert actions_on(doc, "sso:") == {"sso:CreateApplicationAssignment", "sso:DeleteApplicationAssignment", "sso:ListApplicationAssignments"}
    for action in actions_on(doc, "sso:"):
        assert resources_granted(doc, action) == {app}
    fallback = synth(domainId="d-adopted00001", identityCenterInstanceId="ssoins-7223c3a1b2c3d4e5").role_policy("membership-sync-role")
    assert resources_granted(fallback, "sso:CreateApplicationAssignment") == {
        f"arn:aws:sso::{ACCOUNT}:application/ssoins-7223c3a1b2c3d4e5/*"
    }


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_dynamodb_access_is_item_level_on_the_ledger_only(stack, role):
    doc = stack.role_policy(role)
    table = stack.one("aws:dynamodb/table:Table").outputs["arn"]
    actions = actions_on(doc, "dynamodb:")
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
    }
    for action in actions:
        assert resources_granted(doc, action) == {table, f"{table}/index/*"}


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_sns_publish_only_to_the_alert_topic(stack, role):
    doc = stack.role_policy(role)
    assert actions_on(doc, "sns:") == {"sns:Publish"}
    assert resources_granted(doc, "sns:Publish") == {stack.outputs["alertTopicArn"]}


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_ec2_access_is_describe_only(stack, role):
    actions = actions_on(stack.role_policy(role), "ec2:")
    assert actions and all(a.startswith("ec2:Describe") for a in actions)


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_kms_use_is_limited_to_the_stack_keys_through_their_services(stack, role):
    doc = stack.role_policy(role)
    data, alerts = stack.named("data-key").outputs["arn"], stack.named("alerts-key").outputs["arn"]
    for stmt in statements(doc):
        if any(a.startswith("kms:") for a in as_list(stmt["Action"])):
            assert as_list(stmt["Resource"]) in ([data], [alerts])
            service = stmt["Condition"]["StringEquals"]["kms:ViaService"]
            assert service == (f"dynamodb.{REGION}.amazonaws.com" if stmt["Resource"] == data else f"sns.{REGION}.amazonaws.com")
            assert not {"kms:CreateGrant", "kms:*", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"} & set(as_list(stmt["Action"]))


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_logs_and_failure_queue_are_the_functions_own(stack, role):
    doc = stack.role_policy(role)
    name = role.removesuffix("-role")
    assert resources_granted(doc, "logs:PutLogEvents") == {
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/studio-warden-test-{name}:*"
    }
    assert resources_granted(doc, "sqs:SendMessage") == {stack.named(f"{name}-failure-dlq").outputs["arn"]}


@pytest.mark.parametrize("scenario", ["default", "sso", "cross-region", "adopted"])
def test_no_mutating_action_is_granted_on_every_resource(synth, scenario):
    """The generic walk: every identity-based policy in the stack, every statement. A `*`
    resource may only carry read actions (Describe*, List*, Get*)."""
    stack = {
        "default": lambda: synth(),
        "sso": lambda: synth(domainAuthMode="SSO"),
        "cross-region": lambda: synth(region="eu-west-1"),
        "adopted": lambda: synth(domainId="d-adopted00001", identityCenterInstanceId="ssoins-7223c3a1b2c3d4e5"),
    }[scenario]()
    documents = identity_policies(stack)
    assert len(documents) >= 3  # two functions and the scheduler, plus any created roles
    for where, doc in documents:
        for stmt in statements(doc):
            if stmt.get("Effect") == "Allow":
                assert "NotAction" not in stmt and "NotResource" not in stmt, f"{where}: Allow with NotAction/NotResource"
            if stmt.get("Effect") != "Allow" or "*" not in as_list(stmt.get("Resource")):
                continue
            mutating = [a for a in as_list(stmt["Action"]) if not is_read_only(a)]
            assert not mutating, f"{where}: {mutating} on Resource '*'"


def test_wildcard_resources_only_for_actions_without_resource_level_permissions(stack):
    for where, doc in identity_policies(stack):
        for stmt in statements(doc):
            if "*" in as_list(stmt.get("Resource")):
                extra = set(as_list(stmt["Action"])) - WILDCARD_ALLOWED
                assert not extra, f"{where}: {extra} could be scoped to a resource"


def test_resource_policies_name_their_principals(stack):
    """Queue, topic and trust policies: no Allow to a bare "*" principal."""
    for where, doc in stack.policy_documents():
        for stmt in statements(doc):
            if stmt.get("Effect") == "Allow":
                assert stmt.get("Principal", {}) not in ("*", {"AWS": "*"}), f"{where} allows anyone"
