"""Keys, ledger, alert topic and dead-letter queues: encrypted, recoverable, protected."""

import json

from support import as_list, statements

TABLE = "aws:dynamodb/table:Table"
KEY = "aws:kms/key:Key"
QUEUE = "aws:sqs/queue:Queue"


def ledger(stack):
    return stack.one(TABLE).inputs


def test_ledger_keys_and_on_demand_capacity(stack):
    t = ledger(stack)
    assert (t["hashKey"], t["rangeKey"]) == ("pk", "sk")
    assert sorted((a["name"], a["type"]) for a in t["attributes"]) == [("pk", "S"), ("sk", "S")]
    assert t["billingMode"] == "PAY_PER_REQUEST"
    assert "readCapacity" not in t and "writeCapacity" not in t


def test_ledger_has_point_in_time_recovery(stack):
    assert ledger(stack)["pointInTimeRecovery"]["enabled"] is True


def test_ledger_is_encrypted_with_the_stack_key(stack):
    sse = ledger(stack)["serverSideEncryption"]
    assert sse["enabled"] is True
    assert sse["kmsKeyArn"] == stack.named("data-key").outputs["arn"]


def test_ledger_ttl_is_on_expires_at(stack):
    assert ledger(stack)["ttl"] == {"attributeName": "expires_at", "enabled": True}


def test_ledger_deletion_protection_is_on_unless_turned_off_for_dev(stack, synth):
    assert ledger(stack)["deletionProtectionEnabled"] is True
    assert ledger(synth(tableDeletionProtection=False))["deletionProtectionEnabled"] is False


def test_keys_rotate_and_have_a_deletion_window(stack):
    keys = stack.of_type(KEY)
    assert {k.name for k in keys} == {"data-key", "alerts-key"}
    for key in keys:
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["deletionWindowInDays"] >= 7


def test_alerts_key_admits_only_cloudwatch_alarms_to_use_it(stack):
    """Besides the account (administering through IAM), only CloudWatch (alarms publishing to the
    topic), only to encrypt and decrypt, only for this account. No EventBridge grant: no rule
    publishes to the topic, and EventBridge's KMS requests carry no aws:SourceAccount, so such a
    grant's condition would never match. The data key admits no service at all."""
    alerts = json.loads(stack.named("alerts-key").inputs["policy"])
    services = [s for s in statements(alerts) if "Service" in s.get("Principal", {})]
    assert len(services) == 1
    stmt = services[0]
    assert as_list(stmt["Principal"]["Service"]) == ["cloudwatch.amazonaws.com"]
    assert sorted(as_list(stmt["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert stmt["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    data = json.loads(stack.named("data-key").inputs["policy"])
    assert all("Service" not in s.get("Principal", {}) for s in statements(data))
    for doc in (alerts, data):
        for s in statements(doc):
            if s.get("Principal", {}).get("AWS"):
                assert s["Principal"]["AWS"] == "arn:aws:iam::111122223333:root"


def test_alert_topic_is_encrypted_with_its_key(stack):
    topic = stack.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == stack.named("alerts-key").outputs["arn"]


def test_alert_topic_policy_admits_this_accounts_alarms_and_denies_plain_transport(stack):
    doc = json.loads(stack.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    allow = [s for s in statements(doc) if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allow] == [{"Service": "cloudwatch.amazonaws.com"}]
    assert allow[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": "111122223333"}
    deny = [s for s in statements(doc) if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_queue_is_encrypted(stack):
    queues = stack.of_type(QUEUE)
    assert len(queues) == 4
    for queue in queues:
        assert queue.inputs.get("sqsManagedSseEnabled") is True or queue.inputs.get("kmsMasterKeyId"), f"{queue.name} is not encrypted"
