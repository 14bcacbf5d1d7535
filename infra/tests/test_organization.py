"""Organisation deployments (issue 14): hub, spoke and identity-center stacks under mocks.

The mocks' caller is account 111122223333. As a hub it holds two of the policy's domains itself
(eu-west-1 and us-east-1) and reaches the others (444455556666, 555566667777) through roles; as a
spoke (hub 999900001111) it is the account of those two domains; as the Identity Center account
it owns the store and, with identityRole, the role `studio-warden-identity`.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import FIXTURES
from eventpattern import matches
from support import actions_on, allowed, as_list, grants, is_read_only, statements

from warden_infra import iam
from warden_infra.triggers import drift_event_pattern, membership_event_pattern

ORG = "o-a1b2c3d4e5"
OTHER_ORG = "o-zz9y8x7w6v"
ME = "111122223333"
HUB = "999900001111"
HUB_BUS = f"arn:aws:events:us-east-1:{HUB}:event-bus/studio-warden"
HUB_ROLES = [f"arn:aws:iam::{HUB}:role/studio-warden-prod-membership-sync-role-1a2b3c4", f"arn:aws:iam::{HUB}:role/studio-warden-prod-compliance-sweep-role-5d6e7f8"]
ORG_POLICY = FIXTURES / "org-policy.toml"
STORE = "d-9067c2a1b3"
GROUPS = ["sg-0123456789abcdef0", "sg-0a1b2c3d4e5f60718"]
ROLE = "aws:iam/role:Role"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
IDENTITY_ROLE_ELSEWHERE = "arn:aws:iam::777788889999:role/studio-warden-identity"
WILDCARD_READS = set(iam.SAGEMAKER_UNSCOPABLE_READS) | set(iam.NETWORK_UNSCOPABLE_READS)


@pytest.fixture(scope="session")
def policies(tmp_path_factory):
    """Variants of the organisation policy: identity store read through a role in another
    account (the hub is not the Identity Center account), or directly (no role)."""
    root = tmp_path_factory.mktemp("org-policies")
    text = ORG_POLICY.read_text()
    own_role = f'role = "arn:aws:iam::{ME}:role/studio-warden-identity"\n'
    assert own_role in text
    variants = {"identity-role": text.replace(own_role, f'role = "{IDENTITY_ROLE_ELSEWHERE}"\n'), "direct": text.replace(own_role, "")}
    paths = {"fixture": str(ORG_POLICY)}
    for name, body in variants.items():
        (root / f"{name}.toml").write_text(body)
        paths[name] = str(root / f"{name}.toml")
    return paths


@pytest.fixture(scope="session")
def hub(synth, policies):
    return synth(deployment="hub", orgId=ORG, policyFile=policies["identity-role"])


@pytest.fixture(scope="session")
def direct_hub(synth, policies):
    return synth(deployment="hub", orgId=ORG, policyFile=policies["direct"])


def spoke_config(**more):
    return dict(deployment="spoke", orgId=ORG, policyFile=str(ORG_POLICY), hubBusArn=HUB_BUS, hubFunctionRoleArns=HUB_ROLES, **more)


@pytest.fixture(scope="session")
def spoke(synth):
    return synth(**spoke_config())


@pytest.fixture(scope="session")
def identity(synth):
    return synth(deployment="identity-center", orgId=ORG, policyFile=str(ORG_POLICY), hubBusArn=HUB_BUS, hubFunctionRoleArns=HUB_ROLES, identityRole=True)


def doc_of(stack, typ, name):
    return json.loads(stack.named(name).inputs["policy"])


def identity_docs(stack):
    return [(r.name, json.loads(r.inputs["policy"])) for r in stack.of_type("aws:iam/rolePolicy:RolePolicy")]


def arns_in(doc) -> set[str]:
    """Every resource ARN of the Allow statements, and every ARN their conditions name."""
    found = set()
    for s in statements(doc):
        found |= {r for r in as_list(s.get("Resource")) if r != "*"}
        for keys in (s.get("Condition") or {}).values():
            found |= {v for values in keys.values() for v in as_list(values) if str(v).startswith("arn:")}
    return found


# --- Hub ----------------------------------------------------------------------------------------


def test_the_hub_creates_no_domain_and_no_network(hub):
    assert not hub.of_type("aws:sagemaker/domain:Domain")
    assert not [r for r in hub.resources if r.type.startswith("aws:ec2/")]
    for name in ("membership-sync", "compliance-sweep"):
        assert hub.named(name).inputs["environment"]["variables"]["WARDEN_DOMAIN_IDS"] == "{}"


def test_the_hub_bus_admits_put_events_from_the_organisation_only(hub):
    bus = hub.one("aws:cloudwatch/eventBus:EventBus")
    assert bus.inputs["name"] == "studio-warden"
    (policy,) = hub.of_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    assert policy.inputs["eventBusName"] == bus.outputs["name"]
    doc = json.loads(policy.inputs["policy"])
    (stmt,) = statements(doc)
    assert stmt["Effect"] == "Allow" and stmt["Action"] == "events:PutEvents"
    assert stmt["Resource"] == bus.outputs["arn"]
    assert stmt["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    # As AWS would evaluate the principal "*": a caller of the organisation, and no other.
    assert allowed({"Statement": [stmt]}, "events:PutEvents", bus.outputs["arn"], {"aws:PrincipalOrgID": ORG})
    assert not allowed({"Statement": [stmt]}, "events:PutEvents", bus.outputs["arn"], {"aws:PrincipalOrgID": OTHER_ORG})
    assert not allowed({"Statement": [stmt]}, "events:PutEvents", bus.outputs["arn"], {})


def test_the_hub_rules_are_on_its_bus_with_the_single_account_patterns(direct_hub, synth, policies):
    bus = direct_hub.one("aws:cloudwatch/eventBus:EventBus").outputs["name"]
    single = synth(policyFile=policies["direct"], domainId="d-research0001")
    for rule, fn in (("membership-events", "membership-sync"), ("drift-events", "compliance-sweep")):
        r = direct_hub.named(rule)
        assert r.inputs["eventBusName"] == bus
        target = direct_hub.named(f"{rule}-target").inputs
        assert target["eventBusName"] == bus and target["arn"] == direct_hub.named(fn).outputs["arn"]
    assert json.loads(direct_hub.named("membership-events").inputs["eventPattern"]) == json.loads(single.named("membership-events").inputs["eventPattern"])
    # The drift rule: the same builder, over every domain of the policy wherever it lives.
    ids = ["d-research0001", "d-research0002", "d-platform0001", "d-lab000000001"]
    assert json.loads(direct_hub.named("drift-events").inputs["eventPattern"]) == drift_event_pattern(ids, GROUPS)


def test_the_work_queue_is_fifo_with_explicit_dedup_ids_and_a_fifo_dead_letter_queue(hub):
    work, dlq = hub.named("work"), hub.named("work-dlq")
    for q in (work, dlq):
        assert q.inputs["name"].endswith(".fifo") and q.inputs["fifoQueue"] is True
        assert q.inputs["contentBasedDeduplication"] is False
        assert q.inputs["sqsManagedSseEnabled"] is True
    sweep_timeout = hub.named("compliance-sweep").inputs["timeout"]
    assert work.inputs["visibilityTimeoutSeconds"] >= 6 * sweep_timeout
    assert json.loads(work.inputs["redrivePolicy"]) == {"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 5}
    allow = json.loads(hub.named("work-dlq-redrive-allow").inputs["redriveAllowPolicy"])
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [work.outputs["arn"]]}
    assert dlq.inputs["messageRetentionSeconds"] >= work.inputs["messageRetentionSeconds"]


def test_compliance_sweep_works_the_queue_reporting_partial_batch_failures(hub, synth, policies):
    (mapping,) = hub.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    m = mapping.inputs
    assert m["eventSourceArn"] == hub.named("work").outputs["arn"]
    assert m["functionName"] == hub.named("compliance-sweep").outputs["arn"]
    assert m["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["batchSize"] == 1 and m["scalingConfig"] == {"maximumConcurrency": 10}
    # Lambda throttles the source when reserved concurrency is below maximum concurrency.
    assert hub.named("compliance-sweep").inputs["reservedConcurrentExecutions"] > 10
    tuned = synth(deployment="hub", orgId=ORG, policyFile=policies["identity-role"], workQueueBatchSize=2, workQueueMaximumConcurrency=4)
    (m,) = [r.inputs for r in tuned.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")]
    assert (m["batchSize"], m["scalingConfig"]["maximumConcurrency"]) == (2, 4)
    with pytest.raises(Exception, match="workQueueMaximumConcurrency"):
        synth(deployment="hub", orgId=ORG, policyFile=policies["identity-role"], workQueueMaximumConcurrency=1)
    with pytest.raises(Exception, match="complianceSweepReservedConcurrency"):
        synth(deployment="hub", orgId=ORG, policyFile=policies["identity-role"], complianceSweepReservedConcurrency=10)


def test_the_work_dead_letter_queue_alarms_to_the_topic(hub):
    alarm = hub.named("work-dlq-depth").inputs
    assert alarm["dimensions"] == {"QueueName": hub.named("work-dlq").outputs["name"]}
    assert alarm["metricName"] == "ApproximateNumberOfMessagesVisible" and alarm["threshold"] == 0
    assert alarm["alarmActions"] == [hub.one("aws:sns/topic:Topic").outputs["arn"]]


def test_the_hub_functions_get_the_contracts_environment(hub):
    sync = hub.named("membership-sync").inputs["environment"]["variables"]
    sweep = hub.named("compliance-sweep").inputs["environment"]["variables"]
    assert sync["WARDEN_ACCOUNT_ID"] == sweep["WARDEN_ACCOUNT_ID"] == ME
    assert sweep["WARDEN_WORK_QUEUE_URL"] == hub.named("work").outputs["url"]
    assert "WARDEN_WORK_QUEUE_URL" not in sync


def test_only_compliance_sweep_may_use_the_work_queue_and_only_that_queue(hub):
    queue = hub.named("work").outputs["arn"]
    sweep = hub.role_policy("compliance-sweep-role")
    for action in iam.WORK_QUEUE_ACTIONS:
        assert {r for s in grants(sweep, action) for r in as_list(s["Resource"])} <= {queue, hub.named("compliance-sweep-failure-dlq").outputs["arn"]}
        assert allowed(sweep, action, queue)
    assert not allowed(sweep, "sqs:PurgeQueue", queue) and not allowed(sweep, "sqs:DeleteQueue", queue)
    sync = hub.role_policy("membership-sync-role")
    assert not any(allowed(sync, a, queue) for a in iam.WORK_QUEUE_ACTIONS)


@pytest.mark.parametrize("role", ["membership-sync-role", "compliance-sweep-role"])
def test_the_hub_roles_assume_only_warden_roles_in_the_organisation(hub, role):
    doc = hub.role_policy(role)
    assert actions_on(doc, "sts:") == {"sts:AssumeRole"}
    (stmt,) = grants(doc, "sts:AssumeRole")
    assert stmt["Condition"] == {"StringEquals": {"aws:ResourceOrgID": ORG}}
    targets = set(as_list(stmt["Resource"]))
    # Each domain elsewhere: its account's studio-warden-spoke, or the role the policy names for
    # it; plus the identity store's role. Nothing else, and no wildcard.
    assert targets == {
        "arn:aws:iam::444455556666:role/studio-warden-spoke",
        "arn:aws:iam::555566667777:role/studio-warden-lab",
        IDENTITY_ROLE_ELSEWHERE,
    }
    named = re.compile(r"^arn:aws:iam::\d{12}:role/studio-warden-(spoke|identity|lab)$")
    assert all(named.match(t) for t in targets)
    in_org = {"aws:ResourceOrgID": ORG}
    assert allowed(doc, "sts:AssumeRole", "arn:aws:iam::444455556666:role/studio-warden-spoke", in_org)
    assert not allowed(doc, "sts:AssumeRole", "arn:aws:iam::444455556666:role/studio-warden-spoke", {"aws:ResourceOrgID": OTHER_ORG})
    assert not allowed(doc, "sts:AssumeRole", "arn:aws:iam::444455556666:role/OrganizationAccountAccessRole", in_org)
    assert not allowed(doc, "sts:AssumeRole", "arn:aws:iam::123412341234:role/studio-warden-spoke", in_org), "an account the policy does not name"


@pytest.mark.parametrize("role", ["membership-sync-role", "compliance-sweep-role"])
def test_the_hub_roles_act_directly_only_on_the_hubs_own_domains(hub, role):
    doc = hub.role_policy(role)
    sagemaker = {r for a in actions_on(doc, "sagemaker:") for s in grants(doc, a) for r in as_list(s["Resource"]) if r != "*"}
    assert sagemaker and all(r.split(":")[4] == ME for r in sagemaker)
    assert allowed(doc, "sagemaker:DescribeDomain", f"arn:aws:sagemaker:eu-west-1:{ME}:domain/d-research0001")
    assert allowed(doc, "sagemaker:DescribeDomain", f"arn:aws:sagemaker:us-east-1:{ME}:domain/d-research0002")
    assert not allowed(doc, "sagemaker:DescribeDomain", "arn:aws:sagemaker:us-east-1:444455556666:domain/d-platform0001")
    assert {r for s in grants(doc, "iam:PassRole") for r in as_list(s["Resource"])} == {f"arn:aws:iam::{ME}:role/studio-research"}
    # The identity store is read through the identity role: no direct Identity Center grant.
    assert not actions_on(doc, "identitystore:") and not actions_on(doc, "sso:")


def test_a_hub_in_the_identity_center_account_reads_the_store_directly(direct_hub):
    doc = direct_hub.role_policy("membership-sync-role")
    assert actions_on(doc, "identitystore:") == set(iam.IDENTITY_STORE_READS)
    assert allowed(doc, "identitystore:ListGroupMemberships", f"arn:aws:identitystore::{ME}:identitystore/{STORE}")
    (stmt,) = grants(doc, "sts:AssumeRole")
    assert IDENTITY_ROLE_ELSEWHERE not in as_list(stmt["Resource"])


# --- Spoke --------------------------------------------------------------------------------------


def test_the_spoke_role_trusts_only_the_hubs_function_roles_in_the_organisation(spoke):
    role = spoke.named("spoke-role")
    assert role.inputs["name"] == "studio-warden-spoke"
    (trust,) = statements(json.loads(role.inputs["assumeRolePolicy"]))
    assert trust["Principal"] == {"AWS": sorted(HUB_ROLES)}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}


def test_one_spoke_role_serves_every_region_of_the_account(spoke):
    roles = [r for r in spoke.of_type(ROLE)]
    assert sorted(r.name for r in roles) == ["drift-forwarder-role", "spoke-role"], "IAM is global: one of each per account"
    rules = {r.inputs.get("region") or "us-east-1": r for r in spoke.of_type(RULE)}
    assert set(rules) == {"eu-west-1", "us-east-1"}


def test_the_spoke_role_has_the_single_account_sagemaker_grants_on_its_own_domains_only(spoke):
    doc = spoke.role_policy("spoke-role")
    from test_iam import EC2_ACTIONS, SAGEMAKER_ACTIONS

    assert actions_on(doc, "sagemaker:") == SAGEMAKER_ACTIONS
    assert actions_on(doc, "ec2:") == EC2_ACTIONS
    assert not actions_on(doc, "identitystore:") and not actions_on(doc, "dynamodb:") and not actions_on(doc, "sts:")
    profile = f"arn:aws:sagemaker:eu-west-1:{ME}:user-profile/d-research0001/jane"
    assert allowed(doc, "sagemaker:DeleteUserProfile", profile, {"aws:ResourceTag/studio-warden:managed": "true"})
    assert not allowed(doc, "sagemaker:DeleteUserProfile", profile), "a hand-made profile (no ownership tag)"
    assert not allowed(doc, "sagemaker:DeleteUserProfile", f"arn:aws:sagemaker:eu-west-1:{ME}:user-profile/d-notmanaged01/jane", {"aws:ResourceTag/studio-warden:managed": "true"})
    assert not allowed(doc, "sagemaker:DescribeDomain", f"arn:aws:sagemaker:us-east-1:{ME}:domain/d-research0001"), "research lives in eu-west-1"
    assert {r for s in grants(doc, "iam:PassRole") for r in as_list(s["Resource"])} == {f"arn:aws:iam::{ME}:role/studio-research"}


def test_a_spoke_roles_permissions_never_reach_another_account(spoke):
    """Cross-account safety: every ARN the spoke role's policy names (resources and condition
    values) is in the spoke's own account, and the same profile path in another account of the
    policy is out of reach."""
    doc = spoke.role_policy("spoke-role")
    arns = arns_in(doc)
    assert arns and all(a.split(":")[4] == ME for a in arns), sorted(a for a in arns if a.split(":")[4] != ME)
    for s in statements(doc):
        if "*" in as_list(s["Resource"]):
            assert set(as_list(s["Action"])) <= WILDCARD_READS
    managed = {"aws:ResourceTag/studio-warden:managed": "true"}
    assert not allowed(doc, "sagemaker:DeleteUserProfile", "arn:aws:sagemaker:eu-west-1:555566667777:user-profile/d-research0001/jane", managed)
    assert not allowed(doc, "sagemaker:UpdateUserProfile", "arn:aws:sagemaker:us-east-1:444455556666:user-profile/d-platform0001/jane", managed)


def test_the_spoke_forwards_the_single_account_drift_pattern_to_the_hub_bus(spoke):
    per_region = {"eu-west-1": ["d-research0001"], "us-east-1": ["d-research0002"]}
    forwarder = spoke.named("drift-forwarder-role")
    for rule in spoke.of_type(RULE):
        region = rule.inputs.get("region") or "us-east-1"
        assert rule.inputs["eventBusName"] == "default"
        assert json.loads(rule.inputs["eventPattern"]) == drift_event_pattern(per_region[region], GROUPS)
        (target,) = [t for t in spoke.of_type(TARGET) if t.inputs["rule"] == rule.outputs["name"] and (t.inputs.get("region") or "us-east-1") == region]
        assert target.inputs["arn"] == HUB_BUS and target.inputs["roleArn"] == forwarder.outputs["arn"]
    doc = spoke.role_policy("drift-forwarder-role")
    (stmt,) = statements(doc)
    assert stmt["Action"] == ["events:PutEvents"] and stmt["Resource"] == HUB_BUS
    (trust,) = statements(json.loads(forwarder.inputs["assumeRolePolicy"]))
    assert trust["Principal"] == {"Service": "events.amazonaws.com"} and trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ME}}


def test_a_sample_drift_event_is_forwarded_and_reaches_the_hub_rule(spoke, direct_hub):
    event = {
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {"eventSource": "sagemaker.amazonaws.com", "eventName": "UpdateUserProfile", "requestParameters": {"domainId": "d-research0001"}},
    }
    (eu,) = [r for r in spoke.of_type(RULE) if r.inputs.get("region") == "eu-west-1"]
    assert matches(json.loads(eu.inputs["eventPattern"]), event)
    assert matches(json.loads(direct_hub.named("drift-events").inputs["eventPattern"]), event)
    other = {**event, "detail": {**event["detail"], "requestParameters": {"domainId": "d-platform0001"}}}
    assert not matches(json.loads(eu.inputs["eventPattern"]), other), "another account's domain is not this spoke's to forward"


def test_in_the_hub_account_the_spoke_stack_only_forwards(synth):
    own = synth(**{**spoke_config(), "hubBusArn": f"arn:aws:events:us-east-1:{ME}:event-bus/studio-warden", "hubFunctionRoleArns": [h.replace(HUB, ME) for h in HUB_ROLES]})
    assert sorted(r.name for r in own.of_type(ROLE)) == ["drift-forwarder-role"]


def test_the_spoke_refuses_what_it_cannot_serve(synth, tmp_path):
    with pytest.raises(Exception, match="studio-warden-spoke"):
        synth(**spoke_config(spokeRoleName="warden"))
    with pytest.raises(Exception, match="hubFunctionRoleArns"):
        synth(**{**spoke_config(), "hubFunctionRoleArns": ["arn:aws:iam::123412341234:role/x", HUB_ROLES[0]]})
    with pytest.raises(Exception, match="hubBusArn"):
        synth(**{**spoke_config(), "hubBusArn": f"arn:aws:events:us-east-1:{HUB}:event-bus/default"})
    nothing = tmp_path / "policy.toml"
    nothing.write_text(ORG_POLICY.read_text().replace(f'account = "{ME}"', 'account = "121212121212"'))
    with pytest.raises(Exception, match="places no domain"):
        synth(**{**spoke_config(), "policyFile": str(nothing)})


# --- Identity Center account --------------------------------------------------------------------


def test_the_identity_center_account_forwards_the_single_account_membership_pattern(identity, synth, policies):
    (rule,) = identity.of_type(RULE)
    assert rule.inputs["eventBusName"] == "default" and not rule.inputs.get("region"), "home region us-east-1 = the stack's"
    assert json.loads(rule.inputs["eventPattern"]) == membership_event_pattern(STORE, f"arn:aws:identitystore::{ME}:identitystore/{STORE}")
    single = synth(policyFile=policies["direct"], domainId="d-research0001")
    assert json.loads(rule.inputs["eventPattern"]) == json.loads(single.named("membership-events").inputs["eventPattern"])
    (target,) = identity.of_type(TARGET)
    assert target.inputs["arn"] == HUB_BUS and target.inputs["roleArn"] == identity.named("membership-forwarder-role").outputs["arn"]
    assert statements(identity.role_policy("membership-forwarder-role")) == [
        {"Sid": "ForwardToStackRegionBus", "Effect": "Allow", "Action": ["events:PutEvents"], "Resource": HUB_BUS}
    ]


def test_the_forwarder_runs_in_the_identity_center_home_region(synth, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(ORG_POLICY.read_text().replace('region = "us-east-1"\nrole', 'region = "eu-central-1"\nrole', 1))
    stack = synth(deployment="identity-center", orgId=ORG, policyFile=str(policy), hubBusArn=HUB_BUS, hubFunctionRoleArns=HUB_ROLES, identityRole=True)
    (rule,) = stack.of_type(RULE)
    assert rule.inputs["region"] == "eu-central-1"


def test_the_identity_role_reads_this_store_for_the_hub_only(identity):
    role = identity.named("identity-role")
    assert role.inputs["name"] == "studio-warden-identity"
    (trust,) = statements(json.loads(role.inputs["assumeRolePolicy"]))
    assert trust["Principal"] == {"AWS": sorted(HUB_ROLES)} and trust["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    doc = identity.role_policy("identity-role")
    assert actions_on(doc, "identitystore:") == set(iam.IDENTITY_STORE_READS)
    assert all(is_read_only(a) for a in actions_on(doc, "identitystore:"))
    assert allowed(doc, "identitystore:DescribeUser", f"arn:aws:identitystore::{ME}:identitystore/{STORE}")
    assert not allowed(doc, "identitystore:DescribeUser", f"arn:aws:identitystore::444455556666:identitystore/{STORE}")
    assert {a.split(":")[0] for s in statements(doc) for a in as_list(s["Action"])} <= {"identitystore", "sso"}


def test_the_identity_role_must_be_the_one_the_policy_names(synth, policies):
    with pytest.raises(Exception, match="identity_store"):
        synth(deployment="identity-center", orgId=ORG, policyFile=policies["identity-role"], hubBusArn=HUB_BUS, hubFunctionRoleArns=HUB_ROLES, identityRole=True)
    with pytest.raises(Exception, match="identityRole"):
        synth(deployment="identity-center", orgId=ORG, policyFile=str(ORG_POLICY), hubBusArn=HUB_BUS, hubFunctionRoleArns=HUB_ROLES)


# --- Every organisation stack -------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["hub", "direct_hub", "spoke", "identity"])
def test_no_organisation_stack_grants_a_wildcard_action_or_a_mutation_on_every_resource(request, shape):
    stack = request.getfixturevalue(shape)
    for name, doc in identity_docs(stack):
        for s in statements(doc):
            actions = as_list(s["Action"])
            assert not [a for a in actions if "*" in a.split(":")[1] and a not in iam.LEDGER_KEY_ACTIONS + iam.TOPIC_KEY_ACTIONS], (name, actions)
            if "*" in as_list(s["Resource"]):
                assert set(actions) <= WILDCARD_READS, (name, actions)


def test_the_single_account_stack_refuses_organisation_keys(synth):
    with pytest.raises(Exception, match="deployment"):
        synth(orgId=ORG)
    with pytest.raises(Exception, match="deployment must be one of"):
        synth(deployment="multi")
    with pytest.raises(Exception, match="orgId"):
        synth(deployment="hub", policyFile=str(ORG_POLICY))
    with pytest.raises(Exception, match="single-account keys"):
        synth(deployment="hub", orgId=ORG, policyFile=str(ORG_POLICY), domainId="d-research0001")


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"account": "12345"}, "account"),
        ({"region": "everywhere"}, "region"),
        ({"role": "arn:aws:iam::*:role/studio-warden-spoke"}, "role"),
        ({"role": "studio-*"}, "role"),
    ],
)
def test_the_policy_refuses_domain_places_that_would_widen_a_grant(entry, message):
    from warden_infra.policy import PolicyError, parse_policy

    base = {"identity_store": {"id": STORE}, "domains": [{"name": "research", "id": "d-abc123", **entry}]}
    with pytest.raises(PolicyError, match=message):
        parse_policy(base)


def test_the_policy_refuses_two_domains_claiming_one_place():
    from warden_infra.policy import PolicyError, parse_policy

    one = {"id": "d-abc123", "account": "222233334444", "region": "eu-west-1"}
    with pytest.raises(PolicyError, match="same account and region"):
        parse_policy({"identity_store": {"id": STORE}, "domains": [{"name": "a", **one}, {"name": "b", **one}]})
    ok = parse_policy({"identity_store": {"id": STORE}, "domains": [{"name": "a", **one}, {"name": "b", **one, "account": "333344445555"}]})
    assert [d.account for d in ok.domains] == ["222233334444", "333344445555"]
