"""EventBridge rules, the sweep schedule, and who may invoke the functions."""

import json

import pytest
from eventpattern import matches
from support import pattern, statements

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
STORE_ID = "d-9067c2a1b3"
STORE_ARN = f"arn:aws:identitystore::111122223333:identitystore/{STORE_ID}"

MEMBERSHIP = {
    "identitystore.amazonaws.com": {"CreateGroupMembership", "DeleteGroupMembership", "DeleteUser", "DeleteGroup", "UpdateUser", "UpdateGroup"},
    "sso-directory.amazonaws.com": {
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
    },
    "identitystore-scim.amazonaws.com": {"PatchGroup", "PatchUser", "PutUser", "DeleteUser", "DeleteGroup"},
}
DRIFT = {
    "sagemaker.amazonaws.com": {"UpdateDomain", "UpdateUserProfile", "CreateUserProfile", "DeleteUserProfile"},
    "ec2.amazonaws.com": {
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "ModifySecurityGroupRules",
    },
}


def cloudtrail(p):
    """The CloudTrail alternative of the membership pattern (the other is the notifications)."""
    (record,) = [alt for alt in p["$or"] if alt.get("detail-type") == ["AWS API Call via CloudTrail"]]
    return record


def branches(p):
    if "$or" in p:
        p = cloudtrail(p)
    return {b["eventSource"][0]: b for b in p["detail"]["$or"]}


def names_by_source(p):
    if "$or" in p:
        p = cloudtrail(p)
    found: dict = {}
    for b in p["detail"]["$or"]:
        found.setdefault(b["eventSource"][0], set()).update(b["eventName"])
    return found


def test_membership_rule_matches_all_three_sources_and_only_the_listed_events(stack):
    p = pattern(stack.named("membership-events"))
    assert len(p["$or"]) == 2 and set(p) == {"$or"}, "CloudTrail records or Identity Center notifications, nothing else"
    record = cloudtrail(p)
    assert record["detail-type"] == ["AWS API Call via CloudTrail"]
    assert names_by_source(p) == MEMBERSHIP
    assert all(len(b["eventSource"]) == 1 for b in record["detail"]["$or"]), "one source per branch, so names cannot cross sources"


def test_membership_rule_takes_identity_centers_own_notifications(stack):
    """Identity Store notifications (no trail): the source and the four detail-types the
    classifier acts on, never the created ones, and never CloudTrail's detail-type through this
    alternative."""
    p = pattern(stack.named("membership-events"))
    (notices,) = [alt for alt in p["$or"] if alt is not cloudtrail(p)]
    assert notices == {
        "source": ["aws.identitystore"],
        "detail-type": ["User Updated", "User Deleted", "Group Updated", "Group Deleted"],
    }
    base = {"source": "aws.identitystore", "account": "111122223333", "region": "us-east-1", "resources": [], "detail": {}}
    for detail_type in ("User Updated", "User Deleted", "Group Updated", "Group Deleted"):
        assert matches(p, {**base, "detail-type": detail_type}), detail_type
    for detail_type in ("User Created", "Group Created", "Scheduled Event"):
        assert not matches(p, {**base, "detail-type": detail_type}), detail_type
    # Another source with the same detail-type is not Identity Center's.
    assert not matches(p, {**base, "source": "my.app", "detail-type": "User Updated"})


def test_membership_rule_ignores_failed_calls(stack):
    assert cloudtrail(pattern(stack.named("membership-events")))["detail"]["errorCode"] == [{"exists": False}]


def test_membership_rule_is_scoped_to_the_configured_identity_store(stack, synth):
    by_source = branches(pattern(stack.named("membership-events")))
    for source in ("identitystore.amazonaws.com", "sso-directory.amazonaws.com"):
        assert by_source[source]["requestParameters"] == {"identityStoreId": [STORE_ID, STORE_ARN]}
    # SCIM events carry a tenant id, not the store id: matched by tenant when one is configured,
    # and never when the resource id is masked.
    hidden = [{"anything-but": "HIDDEN_DUE_TO_SECURITY_REASONS"}]
    assert by_source["identitystore-scim.amazonaws.com"]["requestParameters"] == {"id": hidden}
    scoped = branches(pattern(synth(scimTenantId="9067c2a1b3-tenant").named("membership-events")))
    assert scoped["identitystore-scim.amazonaws.com"]["requestParameters"] == {"id": hidden, "tenantId": ["9067c2a1b3-tenant"]}


def test_membership_rule_is_on_the_default_bus_of_the_home_region(stack):
    rule = stack.named("membership-events").inputs
    assert rule["eventBusName"] == "default"
    assert "region" not in rule, "home region us-east-1 is the stack region"


def test_membership_rule_targets_membership_sync_with_retries_and_a_dead_letter_queue(stack):
    target = stack.named("membership-events-target").inputs
    assert target["rule"] == stack.named("membership-events").outputs["name"]
    assert target["arn"] == stack.named("membership-sync").outputs["arn"]
    assert target["retryPolicy"]["maximumRetryAttempts"] > 0
    assert target["retryPolicy"]["maximumEventAgeInSeconds"] > 0
    assert target["deadLetterConfig"]["arn"] == stack.named("membership-sync-delivery-dlq").outputs["arn"]


def test_membership_events_are_forwarded_from_another_home_region(synth):
    """Stack in eu-west-1, Identity Center in us-east-1: a rule there forwards to the bus here."""
    stack = synth(region="eu-west-1")
    forward = stack.named("membership-events-forward").inputs
    assert forward["region"] == "us-east-1"
    assert pattern(stack.named("membership-events-forward")) == pattern(stack.named("membership-events"))
    target = stack.named("membership-events-forward-target").inputs
    assert target["region"] == "us-east-1"
    assert target["arn"] == "arn:aws:events:eu-west-1:111122223333:event-bus/default"
    assert target["deadLetterConfig"]["arn"] == stack.named("membership-forward-dlq").outputs["arn"]
    assert stack.named("membership-forward-dlq").inputs["region"] == "us-east-1"
    role_doc = stack.role_policy("membership-forwarder-role")
    assert statements(role_doc) == [
        {"Sid": "ForwardToStackRegionBus", "Effect": "Allow", "Action": ["events:PutEvents"], "Resource": target["arn"]}
    ]
    alarm = stack.named("membership-forward-dlq-depth").inputs
    assert alarm["region"] == "us-east-1"
    assert alarm["alarmActions"] == [stack.outputs["homeRegionAlertTopicArn"]]
    home_topic = stack.by_output("aws:sns/topic:Topic", "arn", stack.outputs["homeRegionAlertTopicArn"])
    assert home_topic.inputs["region"] == "us-east-1"
    home_key = stack.by_output("aws:kms/key:Key", "arn", home_topic.inputs["kmsMasterKeyId"])
    assert home_key.inputs["region"] == "us-east-1" and home_key.inputs["enableKeyRotation"] is True


def test_drift_rule_matches_domain_profile_and_security_group_changes(stack):
    p = pattern(stack.named("drift-events"))
    assert p["detail-type"] == ["AWS API Call via CloudTrail"]
    assert p["detail"]["errorCode"] == [{"exists": False}]
    assert names_by_source(p) == DRIFT


def test_drift_rule_matches_only_the_security_groups_that_matter(stack, synth):
    """A burst of unrelated security-group changes must not throttle compliance-sweep: every
    EC2 branch names the policy's groups (mappings and baselines), the stack's Studio group and
    driftSecurityGroupIds, and no EC2 branch is unscoped."""
    studio = stack.named("studio-sg").outputs["id"]
    expected = sorted({"sg-0a1b2c3d4e5f60718", "sg-0f9e8d7c6b5a40312", "sg-0123456789abcdef0", studio})

    def groups_of(branch):
        params = branch.get("requestParameters", {})
        if "groupId" in params:
            return params["groupId"]
        if "ModifySecurityGroupRulesRequest" in params:
            return params["ModifySecurityGroupRulesRequest"]["GroupId"]
        return branch["responseElements"]["securityGroupRuleSet"]["items"]["groupId"]

    ec2 = [b for b in pattern(stack.named("drift-events"))["detail"]["$or"] if b["eventSource"] == ["ec2.amazonaws.com"]]
    assert len(ec2) == 3
    for branch in ec2:
        assert sorted(groups_of(branch)) == expected
    extra = synth(driftSecurityGroupIds=["sg-0aaaabbbbccccdddd"])
    for branch in [b for b in pattern(extra.named("drift-events"))["detail"]["$or"] if b["eventSource"] == ["ec2.amazonaws.com"]]:
        assert "sg-0aaaabbbbccccdddd" in groups_of(branch)


def test_every_pattern_fits_eventbridges_default_size(stack, synth):
    for rule in stack.of_type(RULE):
        assert len(rule.inputs["eventPattern"]) <= 2048, rule.name
    many = [f"sg-0{i:016x}" for i in range(60)]
    with pytest.raises(Exception, match="2048"):
        synth(driftSecurityGroupIds=many)


def test_rules_and_schedule_are_enabled(stack, synth):
    """A disabled rule or schedule fails silently: pinned ENABLED, in every scenario."""
    for scenario in (stack, synth(region="eu-west-1")):
        rules = scenario.of_type(RULE)
        assert {r.name for r in rules} >= {"membership-events", "drift-events"}
        for rule in rules:
            assert rule.inputs.get("state") == "ENABLED", rule.name
            assert "isEnabled" not in rule.inputs or rule.inputs["isEnabled"] is True
        schedule = scenario.one("aws:scheduler/schedule:Schedule").inputs
        assert schedule.get("state") == "ENABLED"


def test_the_forwarders_role_trusts_eventbridge_of_this_account_only(synth):
    stack = synth(region="eu-west-1")
    trust = json.loads(stack.named("membership-forwarder-role").inputs["assumeRolePolicy"])
    (stmt,) = statements(trust)
    assert stmt["Principal"] == {"Service": "events.amazonaws.com"}
    assert stmt["Action"] == "sts:AssumeRole"
    assert stmt["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}


def test_drift_rule_sagemaker_events_are_limited_to_managed_domains(stack):
    sagemaker = branches(pattern(stack.named("drift-events")))["sagemaker.amazonaws.com"]
    created = stack.one("aws:sagemaker/domain:Domain").outputs["id"]
    assert sorted(sagemaker["requestParameters"]["domainId"]) == sorted([created, "d-7kq2xw9rtl3m"])


def test_drift_rule_targets_compliance_sweep_with_retries_and_a_dead_letter_queue(stack):
    target = stack.named("drift-events-target").inputs
    assert target["arn"] == stack.named("compliance-sweep").outputs["arn"]
    assert target["retryPolicy"]["maximumRetryAttempts"] > 0
    assert target["deadLetterConfig"]["arn"] == stack.named("compliance-sweep-delivery-dlq").outputs["arn"]


def test_sweep_schedule_invokes_compliance_sweep_in_apply_mode(stack, synth):
    schedule = stack.one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["scheduleExpression"] == "rate(15 minutes)"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert target["arn"] == stack.named("compliance-sweep").outputs["arn"]
    assert json.loads(target["input"]) == {"mode": "apply"}
    assert target["roleArn"] == stack.named("sweep-scheduler-role").outputs["arn"]
    assert target["retryPolicy"]["maximumRetryAttempts"] > 0
    assert target["deadLetterConfig"]["arn"] == stack.named("compliance-sweep-delivery-dlq").outputs["arn"]
    hourly = synth(sweepSchedule="rate(1 hour)").one("aws:scheduler/schedule:Schedule").inputs
    assert hourly["scheduleExpression"] == "rate(1 hour)"


def test_scheduler_role_may_only_invoke_the_sweep(stack):
    doc = stack.role_policy("sweep-scheduler-role")
    sweep = stack.named("compliance-sweep").outputs["arn"]
    dlq = stack.named("compliance-sweep-delivery-dlq").outputs["arn"]
    assert {(tuple(s["Action"]), s["Resource"]) for s in statements(doc)} == {
        (("lambda:InvokeFunction",), sweep),
        (("sqs:SendMessage",), dlq),
    }
    trust = json.loads(stack.named("sweep-scheduler-role").inputs["assumeRolePolicy"])
    assert statements(trust)[0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert statements(trust)[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}


def test_eventbridge_may_invoke_each_function_only_from_its_rule(stack):
    permissions = {p.name: p.inputs for p in stack.of_type("aws:lambda/permission:Permission")}
    assert set(permissions) == {"membership-events-invoke", "drift-events-invoke"}
    for rule, function in (("membership-events", "membership-sync"), ("drift-events", "compliance-sweep")):
        p = permissions[f"{rule}-invoke"]
        assert p["principal"] == "events.amazonaws.com"
        assert p["action"] == "lambda:InvokeFunction"
        assert p["function"] == stack.named(function).outputs["name"]
        assert p["sourceArn"] == stack.named(rule).outputs["arn"]


def test_delivery_queues_accept_only_this_stacks_rules(stack):
    for fn, rule in (("membership-sync", "membership-events"), ("compliance-sweep", "drift-events")):
        doc = json.loads(stack.named(f"{fn}-delivery-dlq-policy").inputs["policy"])
        (stmt,) = statements(doc)
        assert stmt["Principal"] == {"Service": "events.amazonaws.com"}
        assert stmt["Action"] == "sqs:SendMessage"
        assert stmt["Resource"] == stack.named(f"{fn}-delivery-dlq").outputs["arn"]
        assert stmt["Condition"] == {"ArnEquals": {"aws:SourceArn": [stack.named(rule).outputs["arn"]]}}
