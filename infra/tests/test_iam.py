"""Least privilege, derived from the policy file, for both function roles and the whole stack."""

import json

import pytest
from conftest import INFRA_DIR

from support import actions_on, allowed, as_list, grants, is_read_only, resources_granted, statements

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
# list_amazonsagemaker: ListUserProfiles, ListApps, ListSpaces; list_amazonec2: Describe*.
WILDCARD_ALLOWED = {
    "sagemaker:ListUserProfiles",
    "sagemaker:ListApps",
    "sagemaker:ListSpaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeRouteTables",
    "ec2:DescribeVpcEndpoints",
}
# Exactly what shared/src/adapters/*.rs calls (plus AddTags/DeleteTags for tag-on-create and the
# mapping-tag reconcile): a new action must be added here on purpose.
SAGEMAKER_ACTIONS = {
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
}
IDENTITY_STORE_ACTIONS = {
    "identitystore:DescribeUser",
    "identitystore:DescribeGroup",
    "identitystore:GetGroupId",
    "identitystore:ListUsers",
    "identitystore:ListGroupMemberships",
    "identitystore:ListGroupMembershipsForMember",
}
EC2_ACTIONS = {"ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints"}


def arn(kind: str, domain: str, *rest: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{domain}" + "".join(f"/{r}" for r in rest)


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
def test_the_functions_cannot_create_apps_or_spaces(stack, role):
    doc = stack.role_policy(role)
    for action in ("sagemaker:CreateApp", "sagemaker:CreateSpace", "sagemaker:UpdateSpace"):
        assert not grants(doc, action), action


def test_private_spaces_are_created_only_when_the_policy_asks_and_only_private_and_owned(synth, tmp_path):
    """[mappings.private_space]: onboarding creates the user's private JupyterLab space. The
    grant exists only for such a policy, and covers private spaces owned by a profile of a
    managed domain, nothing else (no shared space, no space of another domain, no apps)."""
    from conftest import POLICY

    policy = tmp_path / "policy.toml"
    text = POLICY.read_text()
    assert "\n[offboarding]\n" in text
    # The last mapping (the platform domain's) asks for a private space.
    policy.write_text(text.replace("\n[offboarding]\n", '\n[mappings.private_space]\ndisplay_name = "Notebooks"\nebs_size_gb = 20\n\n[offboarding]\n', 1))
    stack = synth(policyFile=str(policy))
    for role in FUNCTION_ROLES:
        doc = stack.role_policy(role)
        assert actions_on(doc, "sagemaker:") == SAGEMAKER_ACTIONS | {"sagemaker:CreateSpace"}
        for d in managed_domains(stack):
            owner = arn("user-profile", d, "jane-doe-example-com-1a2b3c4d")
            space = arn("space", d, "jane-doe-example-com-1a2b3c4d")
            private = {"sagemaker:OwnerUserProfileArn": owner, "sagemaker:SpaceSharingType": "Private"}
            assert allowed(doc, "sagemaker:CreateSpace", space, private), d
            assert not allowed(doc, "sagemaker:CreateSpace", space, {**private, "sagemaker:SpaceSharingType": "Shared"})
            assert not allowed(doc, "sagemaker:CreateSpace", space, {"sagemaker:SpaceSharingType": "Private"}), "an owner-less space"
            assert not allowed(doc, "sagemaker:CreateApp", arn("app", d, "jane-doe-example-com-1a2b3c4d", "JupyterLab", "default"))
            assert not allowed(doc, "sagemaker:UpdateSpace", space, private)
        other = arn("space", "d-unmanaged0001", "s1")
        unmanaged_owner = {"sagemaker:OwnerUserProfileArn": arn("user-profile", "d-unmanaged0001", "jdoe"), "sagemaker:SpaceSharingType": "Private"}
        assert not allowed(doc, "sagemaker:CreateSpace", other, unmanaged_owner)


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
def test_sns_publish_only_to_the_alert_topic(stack, role):
    doc = stack.role_policy(role)
    assert actions_on(doc, "sns:") == {"sns:Publish"}
    assert resources_granted(doc, "sns:Publish") == {stack.outputs["alertTopicArn"]}


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
        "adopted": lambda: synth(domainId="d-adopted00001", identityCenterInstanceId="ssoins-7223c3a1b2c3d4e5", identityCenterAccountId="999988887777"),
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
    """Queue, topic and trust policies: no Allow to a bare "*" principal. VPC endpoint policies,
    which cannot name every caller, narrow "*" by the caller's or the bucket's account, or to
    the one AWS-owned bucket ECR serves image layers from."""
    for where, doc in stack.policy_documents():
        endpoint = where.startswith("aws:ec2/vpcEndpoint:VpcEndpoint")
        for stmt in statements(doc):
            if stmt.get("Effect") != "Allow" or stmt.get("Principal", {}) not in ("*", {"AWS": "*"}):
                continue
            assert endpoint, f"{where} allows anyone"
            narrowed = set(stmt.get("Condition", {}).get("StringEquals", {})) & {"aws:PrincipalAccount", "aws:ResourceAccount", "aws:ResourceOrgID"}
            ecr_layers = stmt["Action"] == "s3:GetObject" and stmt["Resource"] == f"arn:aws:s3:::prod-{REGION}-starport-layer-bucket/*"
            assert narrowed or ecr_layers, f"{where}: {stmt}"


# --- 1. The ownership guard, as IAM evaluates it ---------------------------------------------

MANAGED = {"aws:ResourceTag/studio-warden:managed": "true"}


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_profiles_are_created_only_tagged_and_changed_only_when_owned(stack, role):
    """IAM backs the functions' first safety rule: an unmanaged profile cannot be updated or
    deleted, and no profile can be created without the ownership tag."""
    doc = stack.role_policy(role)
    profile = arn("user-profile", PLATFORM_DOMAIN, "jdoe")
    for action in ("sagemaker:UpdateUserProfile", "sagemaker:DeleteUserProfile"):
        assert allowed(doc, action, profile, MANAGED), action
        assert not allowed(doc, action, profile, {}), f"{action} on a hand-made profile"
        assert not allowed(doc, action, profile, {"aws:ResourceTag/studio-warden:managed": "false"}), action
    create = {"aws:RequestTag/studio-warden:managed": "true", "aws:TagKeys": ["studio-warden:managed", "team"]}
    assert allowed(doc, "sagemaker:CreateUserProfile", profile, create)
    assert not allowed(doc, "sagemaker:CreateUserProfile", profile, {"aws:TagKeys": ["team"]})


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_tagging_cannot_make_a_hand_made_profile_managed(stack, role):
    """AddTags only as part of creating a managed profile, or on a profile that is already
    managed and never on the ownership keys (the suspended mark has its own test); nothing on
    apps, spaces or domains."""
    doc = stack.role_policy(role)
    profile = arn("user-profile", PLATFORM_DOMAIN, "handmade")
    claim = {"aws:RequestTag/studio-warden:managed": "true", "aws:TagKeys": ["studio-warden:managed"]}
    assert not allowed(doc, "sagemaker:AddTags", profile, claim), "AddTags claims a hand-made profile"
    assert not allowed(doc, "sagemaker:AddTags", profile, {**claim, **MANAGED}), "reserved key rewritten"
    assert not allowed(doc, "sagemaker:AddTags", profile, {**claim, "sagemaker:TaggingAction": "UpdateUserProfile"})
    # Tag-on-create: SageMaker authorizes CreateUserProfile's tags as AddTags with TaggingAction.
    assert allowed(doc, "sagemaker:AddTags", profile, {**claim, "sagemaker:TaggingAction": "CreateUserProfile"})
    assert not allowed(doc, "sagemaker:AddTags", profile, {"sagemaker:TaggingAction": "CreateUserProfile", "aws:TagKeys": ["team"]})
    # The mapping-tag reconcile: non-reserved keys on managed profiles only.
    team = {"aws:RequestTag/team": "research", "aws:TagKeys": ["team"]}
    assert allowed(doc, "sagemaker:AddTags", profile, {**team, **MANAGED})
    assert allowed(doc, "sagemaker:DeleteTags", profile, {"aws:TagKeys": ["team"], **MANAGED})
    assert not allowed(doc, "sagemaker:AddTags", profile, team), "tags on a hand-made profile"
    assert not allowed(doc, "sagemaker:DeleteTags", profile, {"aws:TagKeys": ["team"]})
    for keys in (["studio-warden:managed"], ["team", "studio-warden:user-id"]):
        assert not allowed(doc, "sagemaker:DeleteTags", profile, {"aws:TagKeys": keys, **MANAGED}), keys
    assert not allowed(doc, "sagemaker:DeleteTags", profile, MANAGED), "DeleteTags with no key list"
    for resource in (arn("app", PLATFORM_DOMAIN, "jdoe", "JupyterLab", "default"), arn("space", PLATFORM_DOMAIN, "s1"), arn("domain", PLATFORM_DOMAIN)):
        for action in ("sagemaker:AddTags", "sagemaker:DeleteTags"):
            for ctx in ({**team, **MANAGED}, {**claim, "sagemaker:TaggingAction": "CreateUserProfile"}):
                assert not allowed(doc, action, resource, ctx), (action, resource)
    assert resources_granted(doc, "sagemaker:AddTags") <= {arn("user-profile", d, "*") for d in managed_domains(stack)}
    assert resources_granted(doc, "sagemaker:DeleteTags") <= {arn("user-profile", d, "*") for d in managed_domains(stack)}


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_only_the_suspended_mark_of_the_reserved_keys_is_tagged_after_creation(stack, role):
    """Two-stage offboarding tags a managed profile `studio-warden:suspended` and a restore
    removes it: that one reserved key, alone, on managed profiles only. The ownership keys stay
    out of reach, alone or in company, and nothing opens up on a hand-made profile."""
    doc = stack.role_policy(role)
    profile = arn("user-profile", PLATFORM_DOMAIN, "jdoe")
    mark = {"aws:RequestTag/studio-warden:suspended": "2026-11-26T07:00:00Z", "aws:TagKeys": ["studio-warden:suspended"]}
    assert allowed(doc, "sagemaker:AddTags", profile, {**mark, **MANAGED})
    assert allowed(doc, "sagemaker:DeleteTags", profile, {"aws:TagKeys": ["studio-warden:suspended"], **MANAGED})
    # Not on a hand-made profile, nor as part of a create.
    assert not allowed(doc, "sagemaker:AddTags", profile, mark)
    assert not allowed(doc, "sagemaker:DeleteTags", profile, {"aws:TagKeys": ["studio-warden:suspended"]})
    assert not allowed(doc, "sagemaker:AddTags", profile, {**mark, **MANAGED, "sagemaker:TaggingAction": "UpdateUserProfile"})
    # No other reserved key, alone, next to the mark, or by a near name; no request without keys.
    for keys in (
        ["studio-warden:managed"],
        ["studio-warden:user-id"],
        ["studio-warden:suspended", "studio-warden:managed"],
        ["studio-warden:suspended", "studio-warden:user-id"],
        ["studio-warden:suspended-until"],
        ["studio-warden:Suspended"],
    ):
        for action in ("sagemaker:AddTags", "sagemaker:DeleteTags"):
            assert not allowed(doc, action, profile, {"aws:TagKeys": keys, **MANAGED}), (action, keys)
    assert not allowed(doc, "sagemaker:DeleteTags", profile, MANAGED), "DeleteTags with no key list"
    # Nothing on apps, spaces or domains.
    for resource in (arn("app", PLATFORM_DOMAIN, "jdoe", "JupyterLab", "default"), arn("space", PLATFORM_DOMAIN, "s1"), arn("domain", PLATFORM_DOMAIN)):
        for action in ("sagemaker:AddTags", "sagemaker:DeleteTags"):
            assert not allowed(doc, action, resource, {**mark, **MANAGED}), (action, resource)


# --- 2. The exact action sets ----------------------------------------------------------------


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_the_functions_get_exactly_the_actions_the_code_calls(stack, role):
    """Pinned like DynamoDB and SNS: adding e.g. sagemaker:CreatePresignedDomainUrl, or an
    unused read, fails here."""
    doc = stack.role_policy(role)
    assert actions_on(doc, "sagemaker:") == SAGEMAKER_ACTIONS
    assert actions_on(doc, "identitystore:") == IDENTITY_STORE_ACTIONS
    assert actions_on(doc, "ec2:") == EC2_ACTIONS
    assert actions_on(doc, "iam:") == {"iam:PassRole"}
    assert actions_on(doc, "logs:") == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert actions_on(doc, "sqs:") == {"sqs:SendMessage"}
    every = {a for st in statements(doc) for a in as_list(st["Action"])}
    assert all("*" not in a.split(":")[1] or a.startswith("kms:") for a in every), "no action wildcards"
    assert not {a.split(":")[0] for a in every} - {"sagemaker", "identitystore", "ec2", "iam", "logs", "sqs", "sns", "dynamodb", "kms", "sso"}


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_domain_tags_are_out_of_reach(stack, role):
    doc = stack.role_policy(role)
    for d in managed_domains(stack):
        for action in ("sagemaker:ListTags", "sagemaker:AddTags", "sagemaker:DeleteTags"):
            assert not allowed(doc, action, arn("domain", d), {**MANAGED, "aws:TagKeys": ["team"]}), action


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_identity_store_is_read_only_and_limited_to_the_store(stack, role):
    doc = stack.role_policy(role)
    assert actions_on(doc, "identitystore:") == IDENTITY_STORE_ACTIONS
    for action in IDENTITY_STORE_ACTIONS:
        resources = resources_granted(doc, action)
        assert f"arn:aws:identitystore::{ACCOUNT}:identitystore/d-9067c2a1b3" in resources
        assert resources <= {
            f"arn:aws:identitystore::{ACCOUNT}:identitystore/d-9067c2a1b3",
            "arn:aws:identitystore:::user/*",
            "arn:aws:identitystore:::group/*",
            "arn:aws:identitystore:::membership/*",
        }


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_dynamodb_access_is_item_level_on_the_ledger_only(stack, role):
    """No UpdateItem or ConditionCheckItem: the ledger writes with PutItem (alone or inside
    TransactWriteItems, which IAM authorizes per element) and the table has no index."""
    doc = stack.role_policy(role)
    table = stack.one("aws:dynamodb/table:Table").outputs["arn"]
    actions = actions_on(doc, "dynamodb:")
    assert actions == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchWriteItem"}
    for action in actions:
        assert resources_granted(doc, action) == {table}


# --- 3. Deletion scoped to what offboarding deletes ------------------------------------------


def offboarding_cases(doc, shared_spaces_deleted: bool):
    owner = {"sagemaker:OwnerUserProfileArn": arn("user-profile", PLATFORM_DOMAIN, "jdoe")}
    private = {**owner, "sagemaker:SpaceSharingType": "Private"}
    shared = {**owner, "sagemaker:SpaceSharingType": "Shared"}
    space, space_app = arn("space", PLATFORM_DOMAIN, "s1"), arn("app", PLATFORM_DOMAIN, "s1", "JupyterLab", "default")
    assert allowed(doc, "sagemaker:DeleteApp", arn("app", PLATFORM_DOMAIN, "jdoe", "JupyterServer", "default"))
    assert allowed(doc, "sagemaker:DeleteSpace", space, private)
    assert allowed(doc, "sagemaker:DeleteApp", space_app, private)
    assert allowed(doc, "sagemaker:DeleteSpace", space, shared) is shared_spaces_deleted
    assert allowed(doc, "sagemaker:DeleteApp", space_app, shared) is shared_spaces_deleted
    # Never an owner-less space, nor a space or app of another domain.
    assert not allowed(doc, "sagemaker:DeleteSpace", space, {"sagemaker:SpaceSharingType": "Shared"})
    assert not allowed(doc, "sagemaker:DeleteSpace", arn("space", "d-unmanaged0001", "s1"), private)
    assert not allowed(doc, "sagemaker:DeleteApp", arn("app", "d-unmanaged0001", "jdoe", "JupyterServer", "default"))
    assert not allowed(doc, "sagemaker:DeleteSpace", space, {**private, "sagemaker:OwnerUserProfileArn": arn("user-profile", "d-unmanaged0001", "jdoe")})


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_offboarding_deletes_private_spaces_and_keeps_shared_ones_by_default(stack, role):
    offboarding_cases(stack.role_policy(role), shared_spaces_deleted=False)


def test_offboarding_may_delete_owned_shared_spaces_when_the_policy_says_so(synth, tmp_path):
    from conftest import POLICY

    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.read_text().replace('[offboarding]\n', '[offboarding]\nshared_spaces = "delete"\n'))
    offboarding_cases(synth(policyFile=str(policy)).role_policy("membership-sync-role"), shared_spaces_deleted=True)


def test_policy_refuses_an_unknown_shared_spaces_option():
    from warden_infra.policy import PolicyError, parse_policy

    with pytest.raises(PolicyError, match="shared_spaces"):
        parse_policy({"identity_store": {"id": "d-9067c2a1b3"}, "domains": [{"name": "r"}], "offboarding": {"shared_spaces": "all"}})


# --- 5. SSO assignments that work at the first onboarding -------------------------------------


def test_sso_assignments_only_on_the_domain_application(stack, sso_stack, synth):
    assert not actions_on(stack.role_policy("membership-sync-role"), "sso:"), "an IAM-mode domain needs no SSO assignment"
    doc = sso_stack.role_policy("membership-sync-role")
    app = sso_stack.one("aws:sagemaker/domain:Domain").outputs["singleSignOnApplicationArn"]
    assert actions_on(doc, "sso:") == {"sso:CreateApplicationAssignment", "sso:DeleteApplicationAssignment"}
    for action in actions_on(doc, "sso:"):
        assert resources_granted(doc, action) == {app}


def test_instance_fallback_names_the_account_that_owns_identity_center(synth):
    fallback = synth(
        domainId="d-adopted00001", identityCenterInstanceId="ssoins-7223c3a1b2c3d4e5", identityCenterAccountId="999988887777"
    ).role_policy("membership-sync-role")
    assert resources_granted(fallback, "sso:CreateApplicationAssignment") == {
        "arn:aws:sso::999988887777:application/ssoins-7223c3a1b2c3d4e5/*"
    }
    with pytest.raises(Exception, match="identityCenterAccountId"):
        synth(domainId="d-adopted00001", identityCenterInstanceId="ssoins-7223c3a1b2c3d4e5")


EXAMPLE_POLICY = INFRA_DIR.parent / "examples" / "policy.toml"
EXAMPLE_APP = f"arn:aws:sso::{ACCOUNT}:application/ssoins-7223c3a1b2c3d4e5/apl-0123456789abcdef"


def test_an_sso_domain_the_stack_did_not_create_needs_its_application(synth):
    """The shipped example policy adopts an SSO-mode domain: without its application ARN the
    first onboarding would be AccessDenied, so the stack refuses before deploy."""
    with pytest.raises(Exception, match="ssoApplicationArns.research"):
        synth(policyFile=str(EXAMPLE_POLICY), domainId="d-research00001")
    doc = synth(policyFile=str(EXAMPLE_POLICY), domainId="d-research00001", ssoApplicationArns={"research": EXAMPLE_APP}).role_policy(
        "membership-sync-role"
    )
    assert resources_granted(doc, "sso:CreateApplicationAssignment") == {EXAMPLE_APP}
    with pytest.raises(Exception, match="not a list"):
        synth(policyFile=str(EXAMPLE_POLICY), domainId="d-research00001", ssoApplicationArns=[EXAMPLE_APP])
    with pytest.raises(Exception, match="elsewhere"):
        synth(policyFile=str(EXAMPLE_POLICY), domainId="d-research00001", ssoApplicationArns={"research": EXAMPLE_APP, "elsewhere": EXAMPLE_APP})


def test_a_created_domain_must_have_the_auth_mode_the_policy_requires(synth, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[identity_store]\nid = "d-9067c2a1b3"\n[[domains]]\nname = "research"\n[domains.baseline]\nauth_mode = "SSO"\n'
    )
    with pytest.raises(Exception, match="auth mode SSO"):
        synth(policyFile=str(policy))
    doc = synth(policyFile=str(policy), domainAuthMode="SSO").role_policy("membership-sync-role")
    assert actions_on(doc, "sso:")
