"""The two warden functions, deployed from the cargo-lambda arm64 zips.

`make package` builds target/lambda/<function>/bootstrap.zip holding `bootstrap` and the policy
file as `policy.toml`; the functions read it at $LAMBDA_TASK_ROOT/policy.toml. Each function has
its own role (iam.function_policy), log group, failure queue and async invoke settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import pulumi
import pulumi_aws as aws

from . import iam
from .aws_context import AwsContext
from .config import ConfigError, FunctionSettings, StackConfig
from .queues import create_queue

RUNTIME = "provided.al2023"
ARCHITECTURE = "arm64"
HANDLER = "bootstrap"  # custom runtimes run the `bootstrap` executable; the handler is unused
POLICY_FILE_IN_ZIP = "policy.toml"


@dataclass(frozen=True)
class SharedResources:
    """What both functions act on."""

    domain_ids: list[pulumi.Input[str]]
    domain_ids_env: pulumi.Input[str]
    sso_application_arns: list[pulumi.Input[str | None]]
    table: aws.dynamodb.Table
    topic: aws.sns.Topic
    data_key: aws.kms.Key
    alerts_key: aws.kms.Key


@dataclass(frozen=True)
class HubGrants:
    """What a hub function gets instead of the single-account policy (organisation deployment):
    `policy(values)` builds its document from the resolved ARNs (those of function_policy plus
    `inputs`), and `environment` adds to its variables."""

    policy: Callable[[dict], dict]
    inputs: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)


@dataclass(frozen=True)
class WardenFunction:
    name: str
    function: aws.lambda_.Function
    role: aws.iam.Role
    delivery_dlq: aws.sqs.Queue  # rules and schedules that could not reach the function
    failure_dlq: aws.sqs.Queue  # invocations that failed after Lambda's retries
    log_group: aws.cloudwatch.LogGroup


def artifact(config: StackConfig, name: str) -> pulumi.FileArchive:
    path = config.artifact_dir / name / "bootstrap.zip"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: run `make package` first (stack config artifactDir)")
    return pulumi.FileArchive(str(path))


def create_function(
    name: str,
    description: str,
    settings: FunctionSettings,
    config: StackConfig,
    ctx: AwsContext,
    shared: SharedResources,
    hub: HubGrants | None = None,
) -> WardenFunction:
    function_name = f"{config.name_prefix}-{name}"
    delivery_dlq = create_queue(f"{name}-delivery-dlq", config)
    failure_dlq = create_queue(f"{name}-failure-dlq", config)

    log_group_name = f"/aws/lambda/{function_name}"
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=log_group_name,
        retention_in_days=config.log_retention_days,
        tags=config.tags(),
    )

    role = aws.iam.Role(
        f"{name}-role",
        description=f"studio-warden {name}: least privilege derived from {config.policy_path.name}",
        assume_role_policy=json.dumps(iam.assume_role_policy("lambda.amazonaws.com")),
        tags=config.tags(),
    )

    def single_policy(v: dict) -> dict:
        return iam.function_policy(
            iam.FunctionScope(
                ctx=ctx,
                domain_ids=v["domain_ids"],
                execution_roles=config.policy.execution_roles,
                identity_store_id=config.policy.identity_store_id,
                sso_application_arns=[arn for arn in v["sso_application_arns"] if arn],
                table_arn=v["table_arn"],
                topic_arn=v["topic_arn"],
                data_key_arn=v["data_key_arn"],
                alerts_key_arn=v["alerts_key_arn"],
                log_group_arn=ctx.log_group(log_group_name),
                failure_queue_arn=v["failure_queue_arn"],
                shared_spaces=config.policy.shared_spaces,
                create_private_spaces=config.policy.creates_private_spaces,
            )
        )

    build_policy = hub.policy if hub else single_policy
    policy = pulumi.Output.all(
        log_group_arn=ctx.log_group(log_group_name),
        **(hub.inputs if hub else {}),
        domain_ids=shared.domain_ids,
        sso_application_arns=shared.sso_application_arns,
        table_arn=shared.table.arn,
        topic_arn=shared.topic.arn,
        data_key_arn=shared.data_key.arn,
        alerts_key_arn=shared.alerts_key.arn,
        failure_queue_arn=failure_dlq.arn,
    ).apply(lambda v: json.dumps(build_policy(v)))
    role_policy = aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=pulumi.ResourceOptions(parent=role))

    function = aws.lambda_.Function(
        name,
        name=function_name,
        description=description,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler=HANDLER,
        code=artifact(config, name),
        role=role.arn,
        memory_size=settings.memory_mb,
        timeout=settings.timeout_seconds,
        reserved_concurrent_executions=settings.reserved_concurrency,
        environment=aws.lambda_.FunctionEnvironmentArgs(
            variables={
                "WARDEN_POLICY_FILE": POLICY_FILE_IN_ZIP,
                "WARDEN_TABLE": shared.table.name,
                "WARDEN_TOPIC_ARN": shared.topic.arn,
                "WARDEN_DOMAIN_IDS": shared.domain_ids_env,
                "RUST_LOG": config.log_level.lower(),
                # Identity Center and Identity Store calls per second of one invocation.
                "WARDEN_IDENTITY_TPS": str(config.identity_tps_per_invocation),
                # The namespace of the metrics records (shared/metrics.json), which the
                # dashboard and alarms (dashboard.py) read.
                "WARDEN_METRICS_NAMESPACE": config.metrics_namespace,
                **(hub.environment if hub else {}),
            }
        ),
        # Lambda's advanced logging: JSON lines, and Lambda itself sets AWS_LAMBDA_LOG_FORMAT=JSON
        # and AWS_LAMBDA_LOG_LEVEL=<level> in the environment, which the Rust runtime reads.
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(
            log_format="JSON",
            application_log_level=config.log_level,
            system_log_level="INFO",
            log_group=log_group.name,
        ),
        tags=config.tags(),
        opts=pulumi.ResourceOptions(depends_on=[role_policy, log_group]),
    )

    aws.lambda_.FunctionEventInvokeConfig(
        f"{name}-async",
        function_name=function.name,
        maximum_retry_attempts=config.async_retry_attempts,
        maximum_event_age_in_seconds=config.event_max_age_seconds,
        destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
            on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=failure_dlq.arn),
        ),
        opts=pulumi.ResourceOptions(parent=function),
    )
    return WardenFunction(
        name=name, function=function, role=role, delivery_dlq=delivery_dlq, failure_dlq=failure_dlq, log_group=log_group
    )
