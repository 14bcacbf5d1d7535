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
