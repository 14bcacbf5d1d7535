"""The emulator says what AWS says: behaviours checked against AWS's service models and
documentation (tests/emulator/README.md names each source). Each test fails without the
behaviour it names.

    WARDEN_PYTHON -m pytest -q tests/emulator/tests
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import STORE, Emu

ROLE = "arn:aws:iam::123456789012:role/studio"


def err(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return info.value.response


def domain(emu: Emu, auth: str = "IAM") -> str:
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    return emu.client("sagemaker").create_domain(
        DomainName=f"d{time.monotonic_ns()}",
        AuthMode=auth,
        DefaultUserSettings={"ExecutionRole": ROLE},
        SubnetIds=[subnet],
        VpcId=vpc,
    )["DomainId"]


def wait(probe: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if probe():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


# ------------------------------------------------------------------ validation from the model


@pytest.mark.parametrize(
    "extra, path, constraint",
    [
        ({"Tags": [{"Key": "team", "Value": "r&d"}]}, "tags.1.member.value", "regular expression pattern"),
        ({"Tags": [{"Key": "k" * 129, "Value": "v"}]}, "tags.1.member.key", "length less than or equal to 128"),
        ({"Tags": [{"Key": "k"}]}, "tags.1.member.value", "must not be null"),
        (
            {"UserSettings": {"SecurityGroups": [f"sg-{i}" for i in range(6)]}},
            "userSettings.securityGroups",
            "length less than or equal to 5",
        ),
        (
            {"UserSettings": {"JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t9.huge"}}}},
            "userSettings.jupyterLabAppSettings.defaultResourceSpec.instanceType",
            "enum value set",
        ),
        (
            {"UserSettings": {"JupyterLabAppSettings": {"LifecycleConfigArns": ["lcc-1"]}}},
            "userSettings.jupyterLabAppSettings.lifecycleConfigArns",
            "regular expression pattern",
        ),
        ({"UserSettings": {"ExecutionRole": "arn:aws:iam::123:role/x"}}, "userSettings.executionRole", "regular expression pattern"),
        ({"UserProfileName": "a_b"}, "userProfileName", "regular expression pattern"),
    ],
)
def test_sagemaker_requests_are_validated_from_the_service_model(emu: Emu, extra: dict, path: str, constraint: str) -> None:
    sm = emu.client("sagemaker")
    d = domain(emu)
    request = {"DomainId": d, "UserProfileName": "alice", **extra}
    error = err(sm.create_user_profile, **request)["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("1 validation error detected: Value ")
    assert f"at '{path}' failed to satisfy constraint: Member must" in error["Message"]
    assert constraint in error["Message"]
    assert err(sm.describe_user_profile, DomainId=d, UserProfileName="alice")["Error"]["Code"] == "ResourceNotFound"


def test_several_violations_are_counted_and_joined(emu: Emu) -> None:
    sm = emu.client("sagemaker")
    error = err(sm.list_user_profiles, MaxResults=101, SortOrder="Sideways")["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("2 validation errors detected: ")
    assert "at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100" in error["Message"]
    assert "at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [Ascending, Descending]" in error["Message"]


def test_aws_prefixed_tag_keys_are_refused(emu: Emu) -> None:
    sm = emu.client("sagemaker")
    d = domain(emu)
    arn = sm.create_user_profile(DomainId=d, UserProfileName="alice")["UserProfileArn"]
    for call, kwargs in (
        (sm.create_user_profile, {"DomainId": d, "UserProfileName": "bob", "Tags": [{"Key": "aws:owner", "Value": "x"}]}),
        (sm.add_tags, {"ResourceArn": arn, "Tags": [{"Key": "AWS:owner", "Value": "x"}]}),
        (sm.delete_tags, {"ResourceArn": arn, "TagKeys": ["aws:cloudformation:stack-name"]}),
    ):
        error = err(call, **kwargs)["Error"]
        assert error["Code"] == "ValidationException", error
        assert "System prefix 'aws:' reserved for AWS usage in tag key" in error["Message"]
    # A tag value or key using the whole pattern is fine.
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "cost-centre/ml:team_a", "Value": "Zürich 42 +@=.-"}])


def test_add_tags_validates_tag_values(emu: Emu) -> None:
    sm = emu.client("sagemaker")
    d = domain(emu)
    arn = sm.create_user_profile(DomainId=d, UserProfileName="alice")["UserProfileArn"]
    error = err(sm.add_tags, ResourceArn=arn, Tags=[{"Key": "owner", "Value": "a&b"}])["Error"]
    assert error["Code"] == "ValidationException"
    assert "tags.1.member.value" in error["Message"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []


def test_at_most_50_tags_per_resource_and_a_refused_add_tags_applies_nothing(emu: Emu) -> None:
    sm = emu.client("sagemaker")
    d = domain(emu)
    arn = sm.create_user_profile(DomainId=d, UserProfileName="alice")["UserProfileArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
    # Overwriting a key adds no tag.
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k0", "Value": "w"}, {"Key": "k49", "Value": "v"}])
    assert len(sm.list_tags(ResourceArn=arn)["Tags"]) == 50
    error = err(sm.add_tags, ResourceArn=arn, Tags=[{"Key": "k1", "Value": "changed"}, {"Key": "k50", "Value": "v"}])["Error"]
    assert error["Code"] == "ValidationException", error
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert len(tags) == 50 and tags["k1"] == "v" and tags["k0"] == "w"


def test_sso_admin_requests_are_validated_from_the_service_model(emu: Emu) -> None:
    sso = emu.client("sso-admin")
    error = err(
        sso.create_application_assignment,
        ApplicationArn="arn:aws:sso::123456789012:application/bad",
        PrincipalId="not-a-uuid",
        PrincipalType="ROLE",
    )["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("3 validation errors detected: ")
    for member in ("applicationArn", "principalId", "principalType"):
        assert f"at '{member}'" in error["Message"]


# ------------------------------------------------------------------ Identity Store


def test_identity_store_ids_user_ids_and_max_results_are_validated(emu: Emu) -> None:
    ids = emu.client("identitystore")
    for call, kwargs, member in (
        (ids.list_users, {"IdentityStoreId": "store-1"}, "identityStoreId"),
        (ids.describe_user, {"IdentityStoreId": STORE, "UserId": "alice"}, "userId"),
        (ids.list_groups, {"IdentityStoreId": STORE, "MaxResults": 101}, "maxResults"),
    ):
        error = err(call, **kwargs)["Error"]
        assert error["Code"] == "ValidationException", (kwargs, error)
        assert f"at '{member}' failed to satisfy constraint" in error["Message"]


def test_an_unknown_identity_store_is_not_an_empty_store(emu: Emu) -> None:
    ids = emu.client("identitystore")
    assert ids.list_users(IdentityStoreId=STORE)["Users"] == []
    for call in (ids.list_users, ids.list_groups):
        response = err(call, IdentityStoreId="d-0123456789")
        assert response["Error"]["Code"] == "ResourceNotFoundException"
        assert response["ResourceType"] == "IDENTITY_STORE"
    response = err(ids.create_group, IdentityStoreId="d-0123456789", DisplayName="ml")
    assert response["ResourceType"] == "IDENTITY_STORE"
    # The store sso-admin reports is the one that exists.
    instance = emu.client("sso-admin").list_instances()["Instances"][0]
    assert instance["IdentityStoreId"] == STORE


def test_update_group_renames_a_group(emu: Emu) -> None:
    ids = emu.client("identitystore")
    group = ids.create_group(IdentityStoreId=STORE, DisplayName="ml-engineers")["GroupId"]
    ids.create_group(IdentityStoreId=STORE, DisplayName="data")
    ids.update_group(
        IdentityStoreId=STORE,
        GroupId=group,
        Operations=[{"AttributePath": "displayName", "AttributeValue": "ml-platform"}],
    )
    assert ids.describe_group(IdentityStoreId=STORE, GroupId=group)["DisplayName"] == "ml-platform"
    conflict = err(
        ids.update_group,
        IdentityStoreId=STORE,
        GroupId=group,
        Operations=[{"AttributePath": "displayName", "AttributeValue": "data"}],
    )
    assert conflict["Error"]["Code"] == "ConflictException"
    missing = err(
        ids.update_group,
        IdentityStoreId=STORE,
        GroupId="00000000-0000-0000-0000-000000000000",
        Operations=[{"AttributePath": "displayName", "AttributeValue": "x"}],
    )
    assert missing["Error"]["Code"] == "ResourceNotFoundException"
    assert missing["ResourceType"] == "GROUP"


def test_a_missing_group_has_no_member_list(emu: Emu) -> None:
    ids = emu.client("identitystore")
    group = ids.create_group(IdentityStoreId=STORE, DisplayName="ml-engineers")["GroupId"]
    assert ids.list_group_memberships(IdentityStoreId=STORE, GroupId=group)["GroupMemberships"] == []
    ids.delete_group(IdentityStoreId=STORE, GroupId=group)
    missing = err(ids.list_group_memberships, IdentityStoreId=STORE, GroupId=group)
    assert missing["Error"]["Code"] == "ResourceNotFoundException"
    assert missing["ResourceType"] == "GROUP"


# ------------------------------------------------------------------ SageMaker behaviours


def test_a_profile_that_owns_a_shared_space_cannot_be_deleted(emu: Emu) -> None:
    sm = emu.client("sagemaker")
    d = domain(emu)
    sm.create_user_profile(DomainId=d, UserProfileName="alice")
    sm.create_space(
        DomainId=d,
        SpaceName="team-space",
        OwnershipSettings={"OwnerUserProfileName": "alice"},
        SpaceSharingSettings={"SharingType": "Shared"},
    )
    error = err(sm.delete_user_profile, DomainId=d, UserProfileName="alice")["Error"]
    assert error["Code"] == "ResourceInUse"
    sm.delete_space(DomainId=d, SpaceName="team-space")
    wait(lambda: not sm.list_spaces(DomainIdEquals=d)["Spaces"])
    sm.delete_user_profile(DomainId=d, UserProfileName="alice")


def test_a_failed_app_cannot_be_deleted_and_does_not_block_its_profile(emu: Emu) -> None:
    sm = emu.client("sagemaker")
    d = domain(emu)
    sm.create_user_profile(DomainId=d, UserProfileName="alice")
    app = {"DomainId": d, "UserProfileName": "alice", "AppType": "JupyterServer", "AppName": "default"}
    sm.create_app(**app)
    emu.ok("/_emulator/sagemaker/app-status", {**app, "Status": "Failed", "FailureReason": "image pull failed"})
    described = sm.describe_app(**app)
    assert described["Status"] == "Failed"
    assert described["FailureReason"] == "image pull failed"
    error = err(sm.delete_app, **app)["Error"]
    assert error["Code"] == "ValidationException"
    assert "previously failed and was automatically deleted" in error["Message"]
    # ListTags on it: the app is gone.
    assert err(sm.list_tags, ResourceArn=described["AppArn"])["Error"]["Code"] == "ValidationException"
    sm.delete_user_profile(DomainId=d, UserProfileName="alice")
    status, _ = emu.control("/_emulator/sagemaker/app-status", {**app, "Status": "InService"})
    assert status == 400


def test_update_user_profile_is_not_refused_while_jupyter_server_runs(emu: Emu) -> None:
    sm = emu.client("sagemaker")
    d = domain(emu)
    sm.create_user_profile(DomainId=d, UserProfileName="alice")
    app = {"DomainId": d, "UserProfileName": "alice", "AppType": "JupyterServer", "AppName": "default"}
    sm.create_app(**app)
    wait(lambda: sm.describe_app(**app)["Status"] == "InService")
    sm.update_user_profile(DomainId=d, UserProfileName="alice", UserSettings={"SecurityGroups": ["sg-1"]})
    wait(lambda: sm.describe_user_profile(DomainId=d, UserProfileName="alice")["Status"] == "InService")
    assert sm.describe_user_profile(DomainId=d, UserProfileName="alice")["UserSettings"]["SecurityGroups"] == ["sg-1"]


def test_list_tags_on_a_deleted_profile_and_a_deleted_app_is_validation_exception(emu: Emu) -> None:
    sm = emu.client("sagemaker")
    d = domain(emu)
    arn = sm.create_user_profile(DomainId=d, UserProfileName="alice", Tags=[{"Key": "k", "Value": "v"}])["UserProfileArn"]
    sm.create_user_profile(DomainId=d, UserProfileName="bob")
    app = {"DomainId": d, "UserProfileName": "bob", "AppType": "JupyterServer", "AppName": "default"}
    app_arn = sm.create_app(**app)["AppArn"]
    sm.delete_app(**app)
    wait(lambda: sm.describe_app(**app)["Status"] == "Deleted")
    assert err(sm.list_tags, ResourceArn=app_arn)["Error"]["Code"] == "ValidationException"
    assert err(sm.add_tags, ResourceArn=app_arn, Tags=[{"Key": "k", "Value": "v"}])["Error"]["Code"] == "ValidationException"
    sm.delete_user_profile(DomainId=d, UserProfileName="alice")
    wait(lambda: not any(p["UserProfileName"] == "alice" for p in sm.list_user_profiles(DomainIdEquals=d)["UserProfiles"]))
    assert err(sm.list_tags, ResourceArn=arn)["Error"]["Code"] == "ValidationException"


def test_sso_domains_created_before_october_2023_have_no_application_arn(emu: Emu) -> None:
    sm = emu.client("sagemaker")
    d = domain(emu, "SSO")
    assert "SingleSignOnApplicationArn" in sm.describe_domain(DomainId=d)
    emu.ok("/_emulator/sagemaker/legacy-sso-domain", {"DomainId": d})
    described = sm.describe_domain(DomainId=d)
    assert "SingleSignOnApplicationArn" not in described
    assert described["AuthMode"] == "SSO"
    iam = domain(emu, "IAM")
    status, _ = emu.control("/_emulator/sagemaker/legacy-sso-domain", {"DomainId": iam})
    assert status == 400


# ------------------------------------------------------------------ DynamoDB transactions


def put(pk: str, sk: str = "state", **extra: Any) -> dict[str, Any]:
    return {"Put": {"TableName": "ledger", "Item": {"pk": {"S": pk}, "sk": {"S": sk}, **extra}}}


def test_overlapping_transactions_on_one_item_cancel_with_transaction_conflict(emu: Emu) -> None:
    ddb = emu.ledger_table()
    emu.ok("/_emulator/config", {"transaction_hold_ms": 600})
    results: dict[str, Any] = {}

    def first() -> None:
        results["first"] = ddb.transact_write_items(TransactItems=[put("u1", n={"N": "1"})])

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(0.2)
    second = err(ddb.transact_write_items, TransactItems=[put("u2"), put("u1", n={"N": "2"})])
    assert second["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in second["CancellationReasons"]] == ["None", "TransactionConflict"]
    conflict = err(ddb.put_item, TableName="ledger", Item={"pk": {"S": "u1"}, "sk": {"S": "state"}})
    assert conflict["Error"]["Code"] == "TransactionConflictException"
    # Reads are not blocked, and other items are writable.
    ddb.get_item(TableName="ledger", Key={"pk": {"S": "u1"}, "sk": {"S": "state"}})
    ddb.put_item(TableName="ledger", Item={"pk": {"S": "u3"}, "sk": {"S": "state"}})
    thread.join()
    assert "first" in results
    item = ddb.get_item(TableName="ledger", Key={"pk": {"S": "u1"}, "sk": {"S": "state"}})["Item"]
    assert item["n"] == {"N": "1"}
    # Once the first transaction is done, the item is free again.
    ddb.put_item(TableName="ledger", Item={"pk": {"S": "u1"}, "sk": {"S": "state"}})


def test_same_token_while_the_transaction_runs_is_transaction_in_progress(emu: Emu) -> None:
    ddb = emu.ledger_table()
    emu.ok("/_emulator/config", {"transaction_hold_ms": 800})
    thread = threading.Thread(target=lambda: ddb.transact_write_items(TransactItems=[put("u1")], ClientRequestToken="tok-1"))
    thread.start()
    time.sleep(0.2)
    again = err(ddb.transact_write_items, TransactItems=[put("u1")], ClientRequestToken="tok-1")
    assert again["Error"]["Code"] == "TransactionInProgressException"
    thread.join()
    ddb.transact_write_items(TransactItems=[put("u1")], ClientRequestToken="tok-1")


def test_an_item_marked_pending_conflicts_until_the_mark_expires(emu: Emu) -> None:
    ddb = emu.ledger_table()
    key = {"pk": {"S": "u1"}, "sk": {"S": "state"}}
    emu.ok("/_emulator/dynamodb/pending-item", {"TableName": "ledger", "Key": key, "Seconds": 0.5})
    for call, kwargs in (
        (ddb.put_item, {"TableName": "ledger", "Item": key}),
        (ddb.update_item, {"TableName": "ledger", "Key": key, "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "1"}}}),
        (ddb.delete_item, {"TableName": "ledger", "Key": key}),
    ):
        assert err(call, **kwargs)["Error"]["Code"] == "TransactionConflictException"
    cancelled = err(
        ddb.transact_write_items,
        TransactItems=[{"ConditionCheck": {"TableName": "ledger", "Key": key, "ConditionExpression": "attribute_not_exists(pk)"}}],
    )
    assert [r["Code"] for r in cancelled["CancellationReasons"]] == ["TransactionConflict"]
    time.sleep(0.6)
    ddb.put_item(TableName="ledger", Item=key)
    status, _ = emu.control("/_emulator/dynamodb/pending-item", {"TableName": "nope", "Key": key, "Seconds": 1})
    assert status == 404


def test_throttling_inside_a_transaction_cancels_it_with_throttling_error(emu: Emu) -> None:
    ddb = emu.ledger_table()
    emu.ok("/_emulator/faults", [{"service": "dynamodb", "operation": "TransactWriteItems", "throttle": 1.0}])
    cancelled = err(ddb.transact_write_items, TransactItems=[put("u1"), put("u2")])
    assert cancelled["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in cancelled["CancellationReasons"]] == ["ThrottlingError", "ThrottlingError"]
    emu.ok("/_emulator/faults", [])
    assert "Item" not in ddb.get_item(TableName="ledger", Key={"pk": {"S": "u1"}, "sk": {"S": "state"}})


# ------------------------------------------------------------------ SNS, EC2


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"Subject": "s" * 100, "Message": "m"}, "InvalidParameter"),
        ({"Subject": "drift\nresolved", "Message": "m"}, "InvalidParameter"),
        ({"Message": ""}, "InvalidParameter"),
        (
            {"Message": "m", "MessageAttributes": {"AWS.trace": {"DataType": "String", "StringValue": "x"}}},
            "ParameterValueInvalid",
        ),
        (
            {"Message": "m", "MessageAttributes": {"amazon.x": {"DataType": "String", "StringValue": "x"}}},
            "ParameterValueInvalid",
        ),
    ],
)
def test_sns_publish_limits(emu: Emu, kwargs: dict, code: str) -> None:
    sns = emu.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    assert err(sns.publish, TopicArn=topic, **kwargs)["Error"]["Code"] == code


def test_sns_publish_within_limits_is_accepted(emu: Emu) -> None:
    sns = emu.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.publish(
        TopicArn=topic,
        Subject="s" * 99,
        Message="m",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "drift"},
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        },
    )


def test_gateway_vpc_endpoints_have_no_private_dns(emu: Emu) -> None:
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gateway = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway")
    interface = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.us-east-1.sagemaker.api", VpcEndpointType="Interface", PrivateDnsEnabled=True
    )
    found = {
        e["VpcEndpointId"]: e
        for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
    }
    assert found[gateway["VpcEndpoint"]["VpcEndpointId"]]["PrivateDnsEnabled"] is False
    assert found[interface["VpcEndpoint"]["VpcEndpointId"]]["PrivateDnsEnabled"] is True
