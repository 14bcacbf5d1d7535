"""Stack outputs, and the config and policy checks that stop a bad deploy early."""

import pytest

from warden_infra.policy import PolicyError, parse_policy


def test_stack_exports(stack):
    assert stack.outputs == {
        "studioUrl": "https://d-created0000x.studio.us-east-1.sagemaker.aws",
        "domainId": "d-created0000x",
        "ledgerTable": "studio-warden-test-ledger",
        "alertTopicArn": "arn:aws:sns:us-east-1:111122223333:studio-warden-test-alerts",
        "membershipSyncFunction": "studio-warden-test-membership-sync",
        "complianceSweepFunction": "studio-warden-test-compliance-sweep",
    }


BASE = {
    "identity_store": {"id": "d-9067c2a1b3"},
    "domains": [{"name": "research", "id": "d-abc123"}],
    "mappings": [{"group": "g", "domain": "research", "execution_role": "arn:aws:iam::111122223333:role/r"}],
}


def with_mapping(**changes):
    return {**BASE, "mappings": [{**BASE["mappings"][0], **changes}]}


def test_policy_contract_example_parses():
    policy = parse_policy(BASE)
    assert policy.execution_roles == ["arn:aws:iam::111122223333:role/r"]
    assert policy.domain("research").id == "d-abc123"


@pytest.mark.parametrize(
    "role",
    ["*", "arn:aws:iam::111122223333:role/*", "arn:aws:iam::*:role/r", "arn:aws:iam::111122223333:role/studio-*", "arn:aws:iam::111122223333:user/u"],
)
def test_policy_rejects_execution_roles_that_would_widen_pass_role(role):
    with pytest.raises(PolicyError, match="execution_role"):
        parse_policy(with_mapping(execution_role=role))


def test_policy_rejects_a_mapping_to_an_undeclared_domain():
    with pytest.raises(PolicyError, match="not a declared"):
        parse_policy(with_mapping(domain="elsewhere"))


def test_policy_rejects_a_malformed_identity_store_id():
    with pytest.raises(PolicyError, match="identity_store"):
        parse_policy({**BASE, "identity_store": {"id": "*"}})


def test_stack_refuses_to_create_a_domain_the_policy_already_names(synth, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[identity_store]\nid = "d-9067c2a1b3"\n[[domains]]\nname = "research"\nid = "d-abc123"\n'
        '[[mappings]]\ngroup = "g"\ndomain = "research"\nexecution_role = "arn:aws:iam::111122223333:role/r"\n'
    )
    with pytest.raises(Exception, match="domainId"):
        synth(policyFile=str(policy))


def test_stack_rejects_invalid_auth_mode(synth):
    with pytest.raises(Exception, match="domainAuthMode"):
        synth(domainAuthMode="PublicInternetOnly")


def test_adopting_a_domain_the_policy_names_by_id_binds_to_that_entry(synth, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[identity_store]\nid = "d-9067c2a1b3"\n[[domains]]\nname = "platform"\nid = "d-7kq2xw9rtl3m"\n'
        '[[mappings]]\ngroup = "g"\ndomain = "platform"\nexecution_role = "arn:aws:iam::111122223333:role/r"\n'
    )
    stack = synth(policyFile=str(policy), domainId="d-7kq2xw9rtl3m")
    env = stack.named("membership-sync").inputs["environment"]["variables"]
    assert env["WARDEN_DOMAIN_IDS"] == '{"platform": "d-7kq2xw9rtl3m"}'
    with pytest.raises(Exception, match="not a \\[\\[domains\\]\\] id"):
        synth(policyFile=str(policy), domainId="d-unmanaged001")


def test_adopted_domain_refuses_network_keys(synth):
    with pytest.raises(Exception, match="keeps its own network"):
        synth(domainId="d-adopted00001", vpcId="vpc-0abc1234def567890", subnetIds=["subnet-0aaa"], securityGroupIds=["sg-0ccc1111dddd2222e"])


def test_zero_event_retries_is_honoured_not_defaulted(synth):
    stack = synth(eventRetryAttempts=0)
    assert stack.named("membership-events-target").inputs["retryPolicy"]["maximumRetryAttempts"] == 0
