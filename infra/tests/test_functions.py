"""The two functions match the contract with the Rust code: artifacts, runtime, environment."""

import json

import pulumi
import pytest

FUNCTION = "aws:lambda/function:Function"
NAMES = ("membership-sync", "compliance-sweep")


def fn(stack, name):
    return stack.named(name).inputs


@pytest.mark.parametrize("name", NAMES)
def test_function_is_arm64_on_provided_al2023_with_bootstrap(stack, name):
    f = fn(stack, name)
    assert f["runtime"] == "provided.al2023"
    assert f["architectures"] == ["arm64"]
    assert f["handler"] == "bootstrap"


@pytest.mark.parametrize("name", NAMES)
def test_function_code_is_the_cargo_lambda_zip(stack, artifact_dir, name):
    code = fn(stack, name)["code"]
    assert isinstance(code, pulumi.FileArchive)
    assert code.path == str(artifact_dir / name / "bootstrap.zip")


def test_missing_artifact_fails_with_a_pointer_to_make_package(synth, tmp_path):
    with pytest.raises(Exception, match="make package"):
        synth(artifactDir=str(tmp_path))


def test_memory_and_timeout_follow_the_benchmarked_defaults(stack, synth):
    assert (fn(stack, "membership-sync")["memorySize"], fn(stack, "membership-sync")["timeout"]) == (256, 60)
    assert (fn(stack, "compliance-sweep")["memorySize"], fn(stack, "compliance-sweep")["timeout"]) == (512, 900)
    tuned = synth(membershipSyncMemoryMb=512, complianceSweepTimeoutSeconds=600)
    assert fn(tuned, "membership-sync")["memorySize"] == 512
    assert fn(tuned, "compliance-sweep")["timeout"] == 600


def test_compliance_sweep_concurrency_is_reserved_and_configurable(stack, synth):
    assert fn(stack, "compliance-sweep")["reservedConcurrentExecutions"] == 2
    assert fn(synth(complianceSweepReservedConcurrency=3), "compliance-sweep")["reservedConcurrentExecutions"] == 3


def identity_rate_account_wide(stack) -> int:
    """The most Identity Center calls per second the warden can make at once, account-wide."""
    return sum(
        fn(stack, name)["reservedConcurrentExecutions"] * int(fn(stack, name)["environment"]["variables"]["WARDEN_IDENTITY_TPS"])
        for name in NAMES
    )


@pytest.mark.parametrize("overrides", [{}, {"membershipSyncReservedConcurrency": 4}, {"identityCenterTps": 10, "complianceSweepReservedConcurrency": 1}])
def test_membership_sync_concurrency_is_reserved_so_the_identity_center_rate_holds_account_wide(synth, overrides):
    """Each invocation paces itself (WARDEN_IDENTITY_TPS); only a bounded number of
    invocations keeps the sum under Identity Center's ~20 TPS, whatever burst of events."""
    stack = synth(**overrides)
    assert fn(stack, "membership-sync")["reservedConcurrentExecutions"] == overrides.get("membershipSyncReservedConcurrency", 2)
    budget = overrides.get("identityCenterTps", 16)
    assert 0 < identity_rate_account_wide(stack) <= budget <= 20
    for name in NAMES:
        assert int(fn(stack, name)["environment"]["variables"]["WARDEN_IDENTITY_TPS"]) >= 1


def test_a_budget_too_small_for_the_concurrency_is_refused(synth):
    with pytest.raises(Exception, match="identityCenterTps"):
        synth(identityCenterTps=3)


@pytest.mark.parametrize("name", NAMES)
def test_function_environment_follows_the_contract(stack, name):
    env = fn(stack, name)["environment"]["variables"]
    assert env["WARDEN_POLICY_FILE"] == "policy.toml"
    assert env["WARDEN_TABLE"] == stack.one("aws:dynamodb/table:Table").outputs["name"]
    assert env["WARDEN_TOPIC_ARN"] == stack.one("aws:sns/topic:Topic").outputs["arn"]
    assert json.loads(env["WARDEN_DOMAIN_IDS"]) == {"research": stack.one("aws:sagemaker/domain:Domain").outputs["id"]}
    assert env["RUST_LOG"] == "info"


def test_domain_ids_map_the_adopted_domain_to_its_policy_name(synth):
    adopted = synth(domainId="d-adopted00001")
    env = fn(adopted, "membership-sync")["environment"]["variables"]
    assert json.loads(env["WARDEN_DOMAIN_IDS"]) == {"research": "d-adopted00001"}


@pytest.mark.parametrize("name", NAMES)
def test_function_logs_json_at_info_to_its_own_log_group(stack, name):
    logging = fn(stack, name)["loggingConfig"]
    assert logging["logFormat"] == "JSON"
    assert logging["applicationLogLevel"] == "INFO"
    group = stack.named(f"{name}-logs")
    assert logging["logGroup"] == group.outputs["name"] == f"/aws/lambda/studio-warden-test-{name}"
    assert group.inputs["retentionInDays"] > 0


@pytest.mark.parametrize("name", NAMES)
def test_async_invocations_retry_then_land_in_the_failure_queue(stack, name):
    config = stack.named(f"{name}-async").inputs
    assert config["functionName"] == stack.named(name).outputs["name"]
    assert config["maximumRetryAttempts"] == 2
    assert config["maximumEventAgeInSeconds"] > 0
    assert config["destinationConfig"]["onFailure"]["destination"] == stack.named(f"{name}-failure-dlq").outputs["arn"]
