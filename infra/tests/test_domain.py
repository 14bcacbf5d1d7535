"""The created SageMaker domain: VPC-only, KMS, Docker off, least-privilege default role."""

import json

from support import actions_on, as_list, statements

DOMAIN = "aws:sagemaker/domain:Domain"


def domain(stack):
    return stack.one(DOMAIN).inputs


def test_domain_is_vpc_only(stack):
    assert domain(stack)["appNetworkAccessType"] == "VpcOnly"


def test_domain_runs_in_the_created_private_subnets(stack):
    d = domain(stack)
    assert d["vpcId"] == stack.named("vpc").outputs["id"]
    assert sorted(d["subnetIds"]) == sorted(s.outputs["id"] for s in stack.of_type("aws:ec2/subnet:Subnet"))


def test_domain_is_encrypted_with_the_stack_key(stack):
    assert domain(stack)["kmsKeyId"] == stack.named("data-key").outputs["arn"]


def test_domain_docker_access_is_disabled(stack):
    assert domain(stack)["domainSettings"]["dockerSettings"]["enableDockerAccess"] == "DISABLED"


def test_domain_default_user_and_space_settings(stack):
    d = domain(stack)
    role = stack.named("studio-execution-role").outputs["arn"]
    studio_sg = [stack.named("studio-sg").outputs["id"]]
    for settings in (d["defaultUserSettings"], d["defaultSpaceSettings"]):
        assert settings["executionRole"] == role
        assert settings["securityGroups"] == studio_sg
    assert d["domainSettings"]["securityGroupIds"] == studio_sg
    assert d["retentionPolicy"]["homeEfsFileSystem"] == "Retain"
    assert d["tags"]["app"] == "studio-warden"


def test_domain_auth_mode_defaults_to_iam_and_follows_config(stack, sso_stack):
    assert domain(stack)["authMode"] == "IAM"
    assert domain(sso_stack)["authMode"] == "SSO"


def test_created_execution_role_is_scoped_to_the_domain_not_full_access(stack):
    role = stack.named("studio-execution-role")
    assert not role.inputs.get("managedPolicyArns"), "no managed policy (AmazonSageMakerFullAccess is account-wide)"
    assert not stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    doc = stack.role_policy("studio-execution-role")
    domain_id = stack.one(DOMAIN).outputs["id"]
    for stmt in statements(doc):
        for action in as_list(stmt["Action"]):
            if action.startswith("sagemaker:") and not action.startswith("sagemaker:List"):
                for resource in as_list(stmt["Resource"]):
                    assert f"/{domain_id}" in resource, f"{action} reaches beyond the domain: {resource}"
    assert "iam:PassRole" not in actions_on(doc, "iam:")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert [s["Principal"] for s in statements(trust)] == [{"Service": "sagemaker.amazonaws.com"}]


def test_execution_role_from_config_is_used_and_no_role_is_created(synth):
    given = "arn:aws:iam::111122223333:role/platform/studio-default"
    stack = synth(executionRoleArn=given)
    assert domain(stack)["defaultUserSettings"]["executionRole"] == given
    assert not [r for r in stack.of_type("aws:iam/role:Role") if r.name == "studio-execution-role"]


def test_adopted_domain_creates_no_domain_or_network(synth):
    adopted = synth(domainId="d-adopted00001")
    assert not adopted.of_type(DOMAIN)
    assert not adopted.of_type("aws:ec2/vpc:Vpc")
    assert adopted.outputs["domainId"] == "d-adopted00001"
    assert adopted.outputs["studioUrl"] == "https://d-adopted00001.studio.us-east-1.sagemaker.aws"


# --- Per-user isolation of the default execution role ------------------------------------------

REGION, ACCOUNT = "us-east-1", "111122223333"


def sm(kind, domain_id, *rest):
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{domain_id}" + "".join(f"/{r}" for r in rest)


def test_the_domain_tells_the_execution_role_who_the_user_is(stack):
    """Isolation keys on the session's source identity: the domain sets it to the profile name,
    and the created role's trust lets SageMaker set it."""
    assert domain(stack)["domainSettings"]["executionRoleIdentityConfig"] == "USER_PROFILE_NAME"
    trust = json.loads(stack.named("studio-execution-role").inputs["assumeRolePolicy"])
    (stmt,) = statements(trust)
    assert stmt["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert sorted(as_list(stmt["Action"])) == ["sts:AssumeRole", "sts:SetSourceIdentity"]


def test_a_studio_user_cannot_touch_another_users_apps_or_spaces(stack):
    from support import allowed

    doc = stack.role_policy("studio-execution-role")
    d = stack.one(DOMAIN).outputs["id"]
    jdoe = {"aws:SourceIdentity": "jdoe"}
    own = {**jdoe, "sagemaker:OwnerUserProfileArn": sm("user-profile", d, "jdoe")}
    other = {**jdoe, "sagemaker:OwnerUserProfileArn": sm("user-profile", d, "asmith")}
    for sharing in ("Private", "Shared"):
        for action in ("sagemaker:CreateSpace", "sagemaker:UpdateSpace", "sagemaker:DeleteSpace"):
            assert allowed(doc, action, sm("space", d, "s1"), {**own, "sagemaker:SpaceSharingType": sharing}), (action, sharing)
            assert not allowed(doc, action, sm("space", d, "s1"), {**other, "sagemaker:SpaceSharingType": sharing}), (action, sharing)
            assert not allowed(doc, action, sm("space", d, "s1"), {**jdoe, "sagemaker:SpaceSharingType": sharing}), "owner-less"
            assert not allowed(doc, action, sm("space", d, "s1"), {"sagemaker:OwnerUserProfileArn": sm("user-profile", d, "jdoe"), "sagemaker:SpaceSharingType": sharing}), "no identity"
    for action in ("sagemaker:CreateApp", "sagemaker:DeleteApp"):
        # Apps of the user's own profile, and of the user's own private spaces ...
        assert allowed(doc, action, sm("app", d, "jdoe", "JupyterServer", "default"), jdoe)
        assert allowed(doc, action, sm("app", d, "s1", "JupyterLab", "default"), {**own, "sagemaker:SpaceSharingType": "Private"})
        # ... never another user's profile apps or private-space apps ...
        assert not allowed(doc, action, sm("app", d, "asmith", "JupyterServer", "default"), jdoe)
        assert not allowed(doc, action, sm("app", d, "s2", "JupyterLab", "default"), {**other, "sagemaker:SpaceSharingType": "Private"})
        # ... a space app dressed up as a profile app (a space named after the user) ...
        assert not allowed(doc, action, sm("app", d, "jdoe", "JupyterLab", "default"), {**other, "sagemaker:SpaceSharingType": "Private"})
        # ... nor anything in another domain.
        assert not allowed(doc, action, sm("app", "d-other0000001", "jdoe", "JupyterServer", "default"), jdoe)
    # Studio tags what it creates, and nothing else can be tagged.
    assert allowed(doc, "sagemaker:AddTags", sm("space", d, "s1"), {**jdoe, "sagemaker:TaggingAction": "CreateSpace"})
    assert not allowed(doc, "sagemaker:AddTags", sm("space", d, "s1"), jdoe)
    assert not allowed(doc, "sagemaker:AddTags", sm("user-profile", d, "asmith"), {**jdoe, "sagemaker:TaggingAction": "CreateSpace"})
    for action in ("sagemaker:UpdateUserProfile", "sagemaker:DeleteUserProfile", "sagemaker:CreatePresignedDomainUrl", "sagemaker:UpdateDomain"):
        assert not allowed(doc, action, sm("user-profile", d, "asmith"), jdoe), action


def test_every_app_and_space_write_of_the_execution_role_names_its_owner(stack):
    """The generic form: a statement that writes apps or spaces is tied to the user (source
    identity) or, for apps only, to shared spaces; never unconditional."""
    doc = stack.role_policy("studio-execution-role")
    writes = {"sagemaker:CreateApp", "sagemaker:DeleteApp", "sagemaker:CreateSpace", "sagemaker:UpdateSpace", "sagemaker:DeleteSpace"}
    for stmt in statements(doc):
        hit = writes & set(as_list(stmt["Action"]))
        if not hit:
            continue
        text = json.dumps(stmt)
        tied = "${aws:SourceIdentity}" in text
        shared_apps = stmt["Condition"].get("StringEquals", {}).get("sagemaker:SpaceSharingType") == "Shared" and not hit & {
            "sagemaker:CreateSpace", "sagemaker:UpdateSpace", "sagemaker:DeleteSpace"
        }
        assert tied or shared_apps, stmt


def test_the_execution_role_can_use_the_domain_key_for_space_volumes(stack):
    from support import allowed

    doc = stack.role_policy("studio-execution-role")
    key = stack.named("data-key").outputs["arn"]
    for service in ("sagemaker", "ec2"):
        via = {"kms:ViaService": f"{service}.{REGION}.amazonaws.com"}
        for action in ("kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"):
            assert allowed(doc, action, key, via), (action, service)
        assert allowed(doc, "kms:CreateGrant", key, {**via, "kms:GrantIsForAWSResource": "true"})
        assert not allowed(doc, "kms:CreateGrant", key, via)
    assert not allowed(doc, "kms:Decrypt", key, {"kms:ViaService": f"s3.{REGION}.amazonaws.com"})
    assert not allowed(doc, "kms:Decrypt", stack.named("alerts-key").outputs["arn"], {"kms:ViaService": f"sagemaker.{REGION}.amazonaws.com"})
