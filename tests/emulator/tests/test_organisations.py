"""Several accounts and regions at once (issue 14, item 6): accounts from credentials, STS
AssumeRole honouring trust policies, SQS FIFO queues, EventBridge across accounts. Each test
is named after the behaviour it checks; tests/emulator/README.md names each source.

    WARDEN_PYTHON -m pytest -q tests/emulator/tests
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import Emu

DEFAULT = "123456789012"
A = "111111111111"  # the hub / Identity Center account
B = "222222222222"  # a spoke
C = "333333333333"  # another spoke


def err(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return info.value.response


def domain_in(emu: Emu, region: str = "us-east-1", account: str | None = None, credentials: Any = None) -> str:
    ec2 = emu.client("ec2", account=account, region=region, credentials=credentials)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    role = f"arn:aws:iam::{account or DEFAULT}:role/studio"
    return emu.client("sagemaker", account=account, region=region, credentials=credentials).create_domain(
        DomainName=f"d{time.monotonic_ns()}",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": role},
        SubnetIds=[subnet],
        VpcId=vpc,
    )["DomainId"]


def domains(emu: Emu, region: str = "us-east-1", account: str | None = None, credentials: Any = None) -> set[str]:
    sm = emu.client("sagemaker", account=account, region=region, credentials=credentials)
    return {d["DomainId"] for d in sm.list_domains()["Domains"]}


def role(emu: Emu, account: str, name: str, statements: list[dict[str, Any]]) -> str:
    doc = {"Version": "2012-10-17", "Statement": statements}
    return emu.client("iam", account=account).create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))[
        "Role"
    ]["Arn"]


def trust(principal: Any, condition: dict[str, Any] | None = None, effect: str = "Allow") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole"}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def assume(emu: Emu, role_arn: str, account: str | None = None, credentials: Any = None, **extra: Any) -> dict[str, Any]:
    sts = emu.client("sts", account=account, credentials=credentials)
    return sts.assume_role(RoleArn=role_arn, RoleSessionName="warden", **extra)["Credentials"]


def denied(emu: Emu, role_arn: str, account: str | None = None, credentials: Any = None, **extra: Any) -> None:
    sts = emu.client("sts", account=account, credentials=credentials)
    response = err(sts.assume_role, RoleArn=role_arn, RoleSessionName="warden", **extra)
    assert response["Error"]["Code"] == "AccessDenied", response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403


# ------------------------------------------------------------------ accounts from credentials


def test_an_access_key_of_twelve_digits_acts_in_that_account(emu: Emu) -> None:
    d = domain_in(emu, account=B)
    sm_b = emu.client("sagemaker", account=B)
    sm_b.create_user_profile(DomainId=d, UserProfileName="alice")
    assert domains(emu, account=B) == {d}
    assert domains(emu, account=C) == set()
    assert domains(emu) == set()
    for other in (emu.client("sagemaker", account=C), emu.client("sagemaker")):
        assert err(other.describe_domain, DomainId=d)["Error"]["Code"] == "ResourceNotFound"
        assert (
            err(other.describe_user_profile, DomainId=d, UserProfileName="alice")["Error"]["Code"]
            == "ResourceNotFound"
        )
    assert sm_b.describe_user_profile(DomainId=d, UserProfileName="alice")["UserProfileArn"].split(":")[4] == B
    assert emu.client("sts", account=B).get_caller_identity()["Account"] == B
    assert emu.client("sts").get_caller_identity()["Account"] == DEFAULT


def test_a_domain_in_one_region_is_invisible_from_another(emu: Emu) -> None:
    west = domain_in(emu, region="us-west-2", account=B)
    assert domains(emu, region="us-west-2", account=B) == {west}
    assert domains(emu, region="us-east-1", account=B) == set()
    sm_east = emu.client("sagemaker", account=B, region="us-east-1")
    assert err(sm_east.describe_domain, DomainId=west)["Error"]["Code"] == "ResourceNotFound"


def test_dynamodb_pending_items_are_per_account(emu: Emu) -> None:
    for account in (None, B):
        emu.client("dynamodb", account=account).create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    emu.ok("/_emulator/dynamodb/pending-item", {"Account": B, "TableName": "ledger", "Key": {"pk": {"S": "x"}}, "Seconds": 30})
    item = {"pk": {"S": "x"}}
    response = err(emu.client("dynamodb", account=B).put_item, TableName="ledger", Item=item)
    assert response["Error"]["Code"] == "TransactionConflictException"
    emu.client("dynamodb").put_item(TableName="ledger", Item=item)


def test_identity_stores_exist_only_in_the_identity_center_account(emu: Emu) -> None:
    store = "d-9067c0ffee"

    def create_user(account: str | None, name: str) -> dict[str, Any]:
        ids = emu.client("identitystore", account=account)
        return ids.create_user(
            IdentityStoreId=store, UserName=name, DisplayName=name, Name={"GivenName": name, "FamilyName": "X"}
        )

    create_user(None, "dora")  # the default account holds the instance by default
    missing = err(create_user, B, "erin")
    assert missing["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.get("ResourceType") == "IDENTITY_STORE"
    emu.ok("/_emulator/config", {"identity_center_account": A})
    create_user(A, "erin")
    assert err(create_user, None, "fay")["Error"]["Code"] == "ResourceNotFoundException"
    # An SSO domain in a member account finds its users in the instance's directory.
    ec2 = emu.client("ec2", account=B)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sm = emu.client("sagemaker", account=B)
    d = sm.create_domain(
        DomainName="sso",
        AuthMode="SSO",
        DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{B}:role/studio"},
        SubnetIds=[subnet],
        VpcId=vpc,
    )["DomainId"]
    sm.create_user_profile(
        DomainId=d, UserProfileName="erin", SingleSignOnUserIdentifier="UserName", SingleSignOnUserValue="erin"
    )
    refused = err(
        sm.create_user_profile,
        DomainId=d,
        UserProfileName="dora",
        SingleSignOnUserIdentifier="UserName",
        SingleSignOnUserValue="dora",
    )
    assert refused["Error"]["Code"] == "ValidationException"
    emu.ok("/_emulator/reset")
    assert emu.control("/_emulator/config", method="GET")[1]["identity_center_account"] == DEFAULT


# ------------------------------------------------------------------ STS AssumeRole and trust policies


def test_assume_role_admits_an_account_the_trust_policy_names_and_acts_in_the_roles_account(emu: Emu) -> None:
    spoke = role(emu, B, "warden-spoke", [trust({"AWS": f"arn:aws:iam::{A}:root"})])
    creds = assume(emu, spoke, account=A)
    identity = emu.client("sts", credentials=creds).get_caller_identity()
    assert identity["Account"] == B
    assert identity["Arn"] == f"arn:aws:sts::{B}:assumed-role/warden-spoke/warden"
    d = domain_in(emu, account=B, credentials=creds)
    assert domains(emu, account=B) == {d}
    assert domains(emu, account=A) == set()
    assert domains(emu, account=C) == set()
    # The bare account id is the same principal as its root ARN.
    bare = role(emu, B, "warden-bare", [trust({"AWS": A})])
    assume(emu, bare, account=A)


def test_assume_role_refuses_a_caller_the_trust_policy_does_not_name(emu: Emu) -> None:
    spoke = role(emu, B, "warden-spoke", [trust({"AWS": f"arn:aws:iam::{A}:root"})])
    denied(emu, spoke, account=C)
    denied(emu, spoke)  # the default account
    service_only = role(emu, B, "lambda-only", [trust({"Service": "lambda.amazonaws.com"})])
    denied(emu, service_only, account=B)


def test_assume_role_admits_only_the_role_the_trust_policy_names(emu: Emu) -> None:
    hub = role(emu, A, "warden-hub", [trust({"AWS": f"arn:aws:iam::{A}:root"})])
    other = role(emu, A, "someone-else", [trust({"AWS": f"arn:aws:iam::{A}:root"})])
    spoke = role(emu, B, "warden-spoke", [trust({"AWS": hub})])
    denied(emu, spoke, account=A)  # a user of A is not the hub role
    denied(emu, spoke, credentials=assume(emu, other, account=A))
    creds = assume(emu, spoke, credentials=assume(emu, hub, account=A))
    assert emu.client("sts", credentials=creds).get_caller_identity()["Account"] == B


def test_assume_role_requires_the_external_id_the_trust_policy_names(emu: Emu) -> None:
    spoke = role(emu, B, "warden-spoke", [trust({"AWS": A}, {"StringEquals": {"sts:ExternalId": "warden-7"}})])
    denied(emu, spoke, account=A)
    denied(emu, spoke, account=A, ExternalId="warden-8")
    assume(emu, spoke, account=A, ExternalId="warden-7")


def test_assume_role_checks_the_callers_organisation(emu: Emu) -> None:
    org = emu.client("organizations", account=A).create_organization(FeatureSet="ALL")["Organization"]["Id"]
    spoke = role(emu, B, "warden-spoke", [trust({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": org}})])
    assume(emu, spoke, account=A)  # the management account
    denied(emu, spoke, account=C)  # not a member
    joined = emu.ok("/_emulator/organizations/accounts", {"ManagementAccount": A, "Accounts": [C]})
    assert joined["OrganizationId"] == org
    assume(emu, spoke, account=C)
    described = emu.client("organizations", account=C).describe_organization()["Organization"]
    assert described["Id"] == org


def test_assume_role_explicit_deny_wins(emu: Emu) -> None:
    spoke = role(
        emu,
        B,
        "warden-spoke",
        [trust({"AWS": "*"}), trust({"AWS": C}, effect="Deny")],
    )
    assume(emu, spoke, account=A)
    denied(emu, spoke, account=C)


def test_assume_role_of_a_role_that_does_not_exist_is_access_denied(emu: Emu) -> None:
    denied(emu, f"arn:aws:iam::{B}:role/nobody", account=A)


def test_assume_role_refuses_trust_policy_forms_the_emulator_does_not_read(emu: Emu) -> None:
    # Each of these would admit account A in AWS; the emulator refuses rather than guess.
    not_principal = role(
        emu, B, "r1", [{"Effect": "Allow", "NotPrincipal": {"AWS": C}, "Action": "sts:AssumeRole"}]
    )
    source_ip = role(emu, B, "r2", [trust({"AWS": A}, {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})])
    other_key = role(emu, B, "r3", [trust({"AWS": A}, {"StringEquals": {"aws:RequestedRegion": "us-east-1"}})])
    for arn in (not_principal, source_ip, other_key):
        denied(emu, arn, account=A)


# ------------------------------------------------------------------ SQS FIFO queues


def fifo(emu: Emu, content_based: bool = False, account: str | None = None) -> tuple[Any, str]:
    sqs = emu.client("sqs", account=account)
    attributes = {"FifoQueue": "true", "VisibilityTimeout": "30"}
    if content_based:
        attributes["ContentBasedDeduplication"] = "true"
    url = sqs.create_queue(QueueName=f"work{time.monotonic_ns()}.fifo", Attributes=attributes)["QueueUrl"]
    return sqs, url


def bodies(sqs: Any, url: str, n: int = 10) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n, WaitTimeSeconds=0).get("Messages", [])
    return [m["Body"] for m in messages]


def test_fifo_send_without_message_group_id_is_missing_parameter(emu: Emu) -> None:
    sqs, url = fifo(emu, content_based=True)
    response = err(sqs.send_message, QueueUrl=url, MessageBody="x")
    assert response["Error"]["Code"] == "MissingParameter"


def test_fifo_send_without_deduplication_id_needs_content_based_deduplication(emu: Emu) -> None:
    sqs, url = fifo(emu)
    response = err(sqs.send_message, QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert response["Error"]["Code"] == "InvalidParameterValue"
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="x-1")
    assert bodies(sqs, url) == ["x"]


def test_fifo_duplicate_within_five_minutes_is_accepted_not_delivered_even_after_the_first_is_deleted(emu: Emu) -> None:
    sqs, url = fifo(emu)
    sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="d")
    sqs.send_message(QueueUrl=url, MessageBody="two", MessageGroupId="g", MessageDeduplicationId="d")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["one"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    accepted = sqs.send_message(QueueUrl=url, MessageBody="three", MessageGroupId="g", MessageDeduplicationId="d")
    assert accepted["MessageId"]
    assert bodies(sqs, url) == []


def test_fifo_content_based_deduplication_hashes_the_body(emu: Emu) -> None:
    sqs, url = fifo(emu, content_based=True)
    sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="h")
    sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="g")
    assert sorted(bodies(sqs, url)) == ["other", "same"]


def test_fifo_messages_of_a_group_arrive_in_send_order(emu: Emu) -> None:
    sqs, url = fifo(emu, content_based=True)
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="acct#region")
    assert bodies(sqs, url) == [f"m{i}" for i in range(5)]


def test_fifo_in_flight_message_blocks_its_group_but_not_other_groups(emu: Emu) -> None:
    sqs, url = fifo(emu, content_based=True)
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="B#us-east-1")
    sqs.send_message(QueueUrl=url, MessageBody="b2", MessageGroupId="B#us-east-1")
    sqs.send_message(QueueUrl=url, MessageBody="c1", MessageGroupId="C#us-east-1")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in first] == ["b1"]
    # b1 is in flight: b2 waits, c1 does not.
    assert bodies(sqs, url) == ["c1"]
    assert bodies(sqs, url) == []
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert bodies(sqs, url) == ["b2"]


def test_fifo_in_flight_message_comes_back_first_when_its_visibility_ends(emu: Emu) -> None:
    sqs, url = fifo(emu, content_based=True)
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="b2", MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=1)["Messages"]
    assert [m["Body"] for m in first] == ["b1"]
    assert bodies(sqs, url) == []
    time.sleep(1.2)
    assert bodies(sqs, url, n=1) == ["b1"]


def test_fifo_batch_of_a_group_comes_back_first_message_first_when_its_visibility_ends(emu: Emu) -> None:
    sqs, url = fifo(emu, content_based=True)
    for body in ("b1", "b2", "b3"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)["Messages"]
    assert [m["Body"] for m in batch] == ["b1", "b2", "b3"]
    time.sleep(1.2)
    # All three are visible again: the first comes back first, and while it is in flight
    # the other two wait.
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in again] == ["b1"]
    assert bodies(sqs, url) == []
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    assert bodies(sqs, url) == ["b2", "b3"]


def test_fifo_batch_of_a_group_comes_back_whole_and_in_order(emu: Emu) -> None:
    sqs, url = fifo(emu, content_based=True)
    for body in ("b1", "b2", "b3"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="c1", MessageGroupId="h")
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)["Messages"]
    assert [m["Body"] for m in batch] == ["b1", "b2", "b3", "c1"]
    time.sleep(1.2)
    again = bodies(sqs, url)
    assert [b for b in again if b.startswith("b")] == ["b1", "b2", "b3"]
    assert sorted(again) == ["b1", "b2", "b3", "c1"]


def test_fifo_in_flight_message_put_back_with_visibility_zero_comes_first(emu: Emu) -> None:
    sqs, url = fifo(emu, content_based=True)
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="b2", MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in first] == ["b1"]
    assert bodies(sqs, url) == []
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    assert bodies(sqs, url, n=1) == ["b1"]


def test_fifo_first_of_a_batch_put_back_waits_while_the_rest_is_in_flight(emu: Emu) -> None:
    sqs, url = fifo(emu, content_based=True)
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="b2", MessageGroupId="g")
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in batch] == ["b1", "b2"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=batch[0]["ReceiptHandle"], VisibilityTimeout=0)
    # b2 is still in flight: its group, b1 included, is not delivered.
    assert bodies(sqs, url) == []
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=batch[1]["ReceiptHandle"], VisibilityTimeout=0)
    assert bodies(sqs, url) == ["b1", "b2"]


def test_fifo_long_poll_returns_the_first_of_a_timed_out_batch_once_it_is_back(emu: Emu) -> None:
    sqs, url = fifo(emu, content_based=True)
    for body in ("b1", "b2", "b3"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)["Messages"]
    assert [m["Body"] for m in batch] == ["b1", "b2", "b3"]
    start = time.monotonic()
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in again] == ["b1"]
    assert 0.5 < time.monotonic() - start < 4


def test_fifo_message_moved_to_the_dead_letter_queue_frees_its_group(emu: Emu) -> None:
    sqs, url = fifo(emu, content_based=True)
    dlq = sqs.create_queue(QueueName="dead.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})},
    )
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="b2", MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=1)["Messages"]
    assert [m["Body"] for m in first] == ["b1"]
    time.sleep(1.2)
    assert bodies(sqs, url, n=1) == ["b2"]
    assert bodies(sqs, dlq) == ["b1"]


def test_standard_queue_redelivers_timed_out_messages(emu: Emu) -> None:
    sqs = emu.client("sqs")
    url = sqs.create_queue(QueueName="plain")["QueueUrl"]
    for body in ("s1", "s2", "s3"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)["Messages"]
    assert sorted(m["Body"] for m in got) == ["s1", "s2", "s3"]
    time.sleep(1.2)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert len(first) == 1
    # A standard queue's MessageGroupId (fair queues) does not hold the others back.
    rest = bodies(sqs, url)
    assert sorted(rest + [first[0]["Body"]]) == ["s1", "s2", "s3"]


def test_message_size_counts_utf8_bytes_and_attributes(emu: Emu) -> None:
    sqs = emu.client("sqs")
    url = sqs.create_queue(QueueName="small", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1024)
    wide = err(sqs.send_message, QueueUrl=url, MessageBody="é" * 600)  # 600 characters, 1,200 bytes
    assert wide["Error"]["Code"] == "InvalidParameterValue"
    attributes = {"k": {"DataType": "String", "StringValue": "v" * 10}}  # 1 + 6 + 10 bytes
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1007, MessageAttributes=attributes)
    over = err(sqs.send_message, QueueUrl=url, MessageBody="x" * 1008, MessageAttributes=attributes)
    assert over["Error"]["Code"] == "InvalidParameterValue"


def test_message_size_limit_is_one_mebibyte_by_default(emu: Emu) -> None:
    sqs = emu.client("sqs")
    url = sqs.create_queue(QueueName="big")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MaximumMessageSize"])["Attributes"] == {
        "MaximumMessageSize": "1048576"
    }
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_576)
    over = err(sqs.send_message, QueueUrl=url, MessageBody="x" * 1_048_577)
    assert over["Error"]["Code"] == "InvalidParameterValue"
    entries = [{"Id": str(i), "MessageBody": "é" * 200_000} for i in range(3)]  # 1,200,000 bytes
    batch = err(sqs.send_message_batch, QueueUrl=url, Entries=entries)
    # boto3 reports the query-compatible code (AWS.SimpleQueueService.BatchRequestTooLong);
    # the model's error shape, which the Rust SDK matches, is BatchRequestTooLong.
    assert batch["Error"]["Code"].rsplit(".", 1)[-1] == "BatchRequestTooLong"


# ------------------------------------------------------------------ EventBridge across accounts


def hub_tap(emu: Emu, pattern: dict[str, Any]) -> tuple[Any, str, str]:
    """The hub's bus (account A) with a rule delivering matching events to an SQS queue."""
    events = emu.client("events", account=A)
    bus = events.create_event_bus(Name="warden-hub")["EventBusArn"]
    sqs = emu.client("sqs", account=A)
    url = sqs.create_queue(QueueName="tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tap", EventBusName="warden-hub", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="tap", EventBusName="warden-hub", Targets=[{"Id": "q", "Arn": arn}])
    return sqs, url, bus


def forward_from(emu: Emu, account: str, bus_arn: str) -> Any:
    events = emu.client("events", account=account)
    events.put_rule(Name="to-hub", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    events.put_targets(
        Rule="to-hub",
        Targets=[{"Id": "hub", "Arn": bus_arn, "RoleArn": f"arn:aws:iam::{account}:role/forwarder"}],
    )
    return events


def drift_event(events: Any, bus: str = "default") -> str:
    entry = {
        "EventBusName": bus,
        "Source": "aws.sagemaker",
        "DetailType": "SageMaker User Profile State Change",
        "Detail": json.dumps({"UserProfileName": "alice"}),
        "Resources": ["arn:aws:sagemaker:us-east-1:x:user-profile/d-1/alice"],
    }
    return events.put_events(Entries=[entry])["Entries"][0]["EventId"]


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_an_event_forwarded_to_another_accounts_bus_keeps_its_envelope(emu: Emu) -> None:
    sqs, url, bus = hub_tap(emu, {"account": [B]})
    emu.client("events", account=A).put_permission(
        EventBusName="warden-hub", Action="events:PutEvents", Principal=B, StatementId="spoke-b"
    )
    event_id = drift_event(forward_from(emu, B, bus))
    [event] = received(sqs, url)
    assert event["account"] == B
    assert event["id"] == event_id
    assert event["region"] == "us-east-1"
    assert event["source"] == "aws.sagemaker"
    assert event["resources"] == ["arn:aws:sagemaker:us-east-1:x:user-profile/d-1/alice"]
    assert event["detail"] == {"UserProfileName": "alice"}


def test_an_sqs_target_receives_the_whole_event_with_its_account(emu: Emu) -> None:
    sqs, url, _bus = hub_tap(emu, {"source": ["aws.sagemaker"]})
    event_id = drift_event(emu.client("events", account=A), bus="warden-hub")
    [event] = received(sqs, url)
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert (event["account"], event["id"]) == (A, event_id)


def test_an_event_bus_policy_that_does_not_admit_the_sender_drops_its_events(emu: Emu) -> None:
    sqs, url, bus = hub_tap(emu, {"source": ["aws.sagemaker"]})
    drift_event(forward_from(emu, C, bus))  # no policy at all
    emu.client("events", account=A).put_permission(
        EventBusName="warden-hub", Action="events:PutEvents", Principal=B, StatementId="spoke-b"
    )
    drift_event(forward_from(emu, C, bus))  # a policy naming someone else
    assert received(sqs, url) == []


def test_an_event_bus_policy_can_admit_the_organisation(emu: Emu) -> None:
    org = emu.client("organizations", account=A).create_organization(FeatureSet="ALL")["Organization"]["Id"]
    emu.ok("/_emulator/organizations/accounts", {"ManagementAccount": A, "Accounts": [B]})
    sqs, url, bus = hub_tap(emu, {"source": ["aws.sagemaker"]})
    emu.client("events", account=A).put_permission(
        EventBusName="warden-hub",
        Action="events:PutEvents",
        Principal="*",
        StatementId="org",
        Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": org},
    )
    drift_event(forward_from(emu, B, bus))
    drift_event(forward_from(emu, C, bus))
    assert [e["account"] for e in received(sqs, url)] == [B]


def test_an_event_received_from_another_account_is_not_sent_on_to_a_third(emu: Emu) -> None:
    sqs_c = emu.client("sqs", account=C)
    url_c = sqs_c.create_queue(QueueName="third")["QueueUrl"]
    arn_c = sqs_c.get_queue_attributes(QueueUrl=url_c, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events_c = emu.client("events", account=C)
    bus_c = events_c.create_event_bus(Name="third")["EventBusArn"]
    events_c.put_permission(EventBusName="third", Action="events:PutEvents", Principal=A, StatementId="hub")
    events_c.put_rule(Name="all", EventBusName="third", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    events_c.put_targets(Rule="all", EventBusName="third", Targets=[{"Id": "q", "Arn": arn_c}])
    sqs, url, bus = hub_tap(emu, {"source": ["aws.sagemaker"]})
    events_a = emu.client("events", account=A)
    events_a.put_permission(EventBusName="warden-hub", Action="events:PutEvents", Principal=B, StatementId="b")
    events_a.put_rule(Name="onward", EventBusName="warden-hub", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    events_a.put_targets(Rule="onward", EventBusName="warden-hub", Targets=[{"Id": "c", "Arn": bus_c}])
    drift_event(forward_from(emu, B, bus))
    assert [e["account"] for e in received(sqs, url)] == [B]
    assert received(sqs_c, url_c) == []
    # The hub's own events do reach C's bus: the hop rule is only about received events.
    drift_event(events_a, bus="warden-hub")
    assert [e["account"] for e in received(sqs_c, url_c)] == [A]
