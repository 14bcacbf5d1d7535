"""Stack configuration: every key the stack reads, its default, and its validation.

Keys are documented in Pulumi.dev.yaml.example and README.md ("Configuration reference").
Relative paths are resolved against the infra/ directory, whatever the working directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pulumi

from .policy import DOMAIN_ID, WardenPolicy, load_policy

INFRA_DIR = Path(__file__).resolve().parent.parent

# Interface endpoints a VPC-only Studio domain needs with no NAT gateway: the SageMaker API and
# runtime (the Studio docs name these two as the minimum), STS (credentials inside apps), CloudWatch
# Logs and metrics (app logs and metrics) and Service Catalog (Studio's Projects pages). S3 is
# reached through a gateway endpoint (free). Add ecr.api/ecr.dkr/kms/... with extraInterfaceEndpoints.
DEFAULT_INTERFACE_ENDPOINTS = (
    "sagemaker.api",
    "sagemaker.runtime",
    "sts",
    "logs",
    "monitoring",
    "servicecatalog",
)

ENDPOINT_SERVICE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")  # the part after com.amazonaws.<region>.
SCHEDULE_EXPRESSION = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\)|at\(.+\))$")
IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]+$")
SSO_APPLICATION_ARN = re.compile(r"^arn:aws[a-z-]*:sso::\d{12}:application/(sso)?ins-[a-zA-Z0-9-.]{16}/apl-[a-zA-Z0-9]{16}$")
SSO_INSTANCE_ID = re.compile(r"^(sso)?ins-[a-zA-Z0-9-.]{16}$")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


class ConfigError(ValueError):
    """A stack config value is missing, malformed or contradicts the policy file."""


@dataclass(frozen=True)
class FunctionSettings:
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int | None


@dataclass(frozen=True)
class StackConfig:
    stack: str
    name_prefix: str
    policy_path: Path
    policy: WardenPolicy
    artifact_dir: Path

    # Network: adopted when vpc_id is set, otherwise created (only when the domain is created).
    vpc_id: str | None
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    vpc_cidr: str
    availability_zone_count: int
    interface_endpoints: tuple[str, ...]

    # Domain: adopted when domain_id is set, otherwise created.
    domain_id: str | None
    stack_domain_name: str  # the policy [[domains]] name of the stack's own domain
    auth_mode: str
    execution_role_arn: str | None
    sso_application_arns: tuple[str, ...]
    identity_center_instance_id: str | None

    # Ledger, triggers, functions, alerts.
    table_deletion_protection: bool
    sweep_schedule: str
    scim_tenant_id: str | None
    membership_sync: FunctionSettings
    compliance_sweep: FunctionSettings
    async_retry_attempts: int
    event_retry_attempts: int
    event_max_age_seconds: int
    log_retention_days: int
    log_level: str
    alert_emails: tuple[str, ...]

    @property
    def creates_domain(self) -> bool:
        return self.domain_id is None

    @property
    def creates_network(self) -> bool:
        return self.creates_domain and self.vpc_id is None

    @property
    def identity_center_region(self) -> str | None:
        return self.policy.identity_store_region

    def tags(self, **extra: str) -> dict[str, str]:
        return {"app": "studio-warden", "stack": self.stack, **extra}


def _resolve(path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else (INFRA_DIR / candidate).resolve()


def _int(cfg: pulumi.Config, key: str, default: int | None) -> int | None:
    """An integer key, where 0 is a value and not "unset"."""
    value = cfg.get_int(key)
    return default if value is None else value


def _function(cfg: pulumi.Config, prefix: str, memory: int, timeout: int, reserved: int | None) -> FunctionSettings:
    settings = FunctionSettings(
        memory_mb=_int(cfg, f"{prefix}MemoryMb", memory),
        timeout_seconds=_int(cfg, f"{prefix}TimeoutSeconds", timeout),
        reserved_concurrency=_int(cfg, f"{prefix}ReservedConcurrency", reserved),
    )
    if not 128 <= settings.memory_mb <= 10240:
        raise ConfigError(f"{prefix}MemoryMb must be between 128 and 10240, got {settings.memory_mb}")
    if not 1 <= settings.timeout_seconds <= 900:
        raise ConfigError(f"{prefix}TimeoutSeconds must be between 1 and 900, got {settings.timeout_seconds}")
    if settings.reserved_concurrency is not None and settings.reserved_concurrency < 1:
        raise ConfigError(f"{prefix}ReservedConcurrency must be at least 1 (0 would disable the function)")
    return settings


def _bounded(cfg: pulumi.Config, key: str, default: int, low: int, high: int) -> int:
    value = _int(cfg, key, default)
    if not low <= value <= high:
        raise ConfigError(f"{key} must be between {low} and {high}, got {value}")
    return value


def load_config() -> StackConfig:
    cfg = pulumi.Config()
    stack = pulumi.get_stack()

    policy_path = _resolve(cfg.get("policyFile") or "../examples/policy.toml")
    policy = load_policy(policy_path)

    vpc_id = cfg.get("vpcId")
    subnet_ids = tuple(cfg.get_object("subnetIds") or ())
    security_group_ids = tuple(cfg.get_object("securityGroupIds") or ())
    domain_id = cfg.get("domainId")
    if domain_id and not DOMAIN_ID.match(domain_id):
        raise ConfigError(f"domainId {domain_id!r} is not a SageMaker domain id (d-...)")
    if domain_id and (vpc_id or subnet_ids or security_group_ids):
        raise ConfigError("an adopted domain (domainId) keeps its own network: unset vpcId, subnetIds and securityGroupIds")
    if vpc_id and (not subnet_ids or not security_group_ids):
        raise ConfigError("vpcId adopts an existing network: subnetIds and securityGroupIds are required too")
    if not vpc_id and (subnet_ids or security_group_ids):
        raise ConfigError("subnetIds and securityGroupIds only apply with vpcId (adopting a network)")

    auth_mode = (cfg.get("domainAuthMode") or "IAM").upper()
    if auth_mode not in ("IAM", "SSO"):
        raise ConfigError(f"domainAuthMode must be IAM or SSO, got {auth_mode!r}")

    execution_role_arn = cfg.get("executionRoleArn")
    if execution_role_arn and not IAM_ROLE_ARN.match(execution_role_arn):
        raise ConfigError(f"executionRoleArn {execution_role_arn!r} is not an IAM role ARN")

    sso_application_arns = tuple(cfg.get_object("ssoApplicationArns") or ())
    for arn in sso_application_arns:
        if not SSO_APPLICATION_ARN.match(arn):
            raise ConfigError(f"ssoApplicationArns: {arn!r} is not an Identity Center application ARN")
    instance_id = cfg.get("identityCenterInstanceId")
    if instance_id and not SSO_INSTANCE_ID.match(instance_id):
        raise ConfigError(f"identityCenterInstanceId {instance_id!r} is not an instance id (ssoins-...)")

    sweep_schedule = cfg.get("sweepSchedule") or "rate(15 minutes)"
    if not SCHEDULE_EXPRESSION.match(sweep_schedule):
        raise ConfigError(f"sweepSchedule {sweep_schedule!r} is not a rate(), cron() or at() expression")

    zone_count = _bounded(cfg, "availabilityZoneCount", 2, 2, 6)  # Studio subnets in at least two AZs

    log_level = (cfg.get("logLevel") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"logLevel must be one of {', '.join(LOG_LEVELS)}")

    log_retention_days = _int(cfg, "logRetentionDays", 30)
    if log_retention_days not in LOG_RETENTION_DAYS:
        raise ConfigError(f"logRetentionDays must be one of {LOG_RETENTION_DAYS}")

    extra_endpoints = tuple(cfg.get_object("extraInterfaceEndpoints") or ())
    for service in extra_endpoints:
        if not ENDPOINT_SERVICE.match(service):
            raise ConfigError(f"extraInterfaceEndpoints: {service!r} is not a service name like ecr.api")

    return StackConfig(
        stack=stack,
        name_prefix=cfg.get("namePrefix") or f"studio-warden-{stack}",
        policy_path=policy_path,
        policy=policy,
        artifact_dir=_resolve(cfg.get("artifactDir") or "../target/lambda"),
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        security_group_ids=security_group_ids,
        vpc_cidr=cfg.get("vpcCidr") or "10.42.0.0/16",
        availability_zone_count=zone_count,
        interface_endpoints=DEFAULT_INTERFACE_ENDPOINTS + tuple(e for e in extra_endpoints if e not in DEFAULT_INTERFACE_ENDPOINTS),
        domain_id=domain_id,
        stack_domain_name=_stack_domain_name(policy, cfg.get("stackDomainName"), domain_id),
        auth_mode=auth_mode,
        execution_role_arn=execution_role_arn,
        sso_application_arns=sso_application_arns,
        identity_center_instance_id=instance_id,
        table_deletion_protection=cfg.get_bool("tableDeletionProtection") is not False,
        sweep_schedule=sweep_schedule,
        scim_tenant_id=cfg.get("scimTenantId"),
        # Memory and timeouts: BENCHMARKS.md records the measurements behind these defaults.
        membership_sync=_function(cfg, "membershipSync", memory=256, timeout=60, reserved=None),
        # Reserved concurrency 2 for the sweep: one scheduled sweep plus one drift check at a time.
        # More would only contend for the SageMaker List APIs (a few calls per second) and the
        # Identity Center's shared ~20 TPS; fewer would queue drift checks behind a long sweep.
        compliance_sweep=_function(cfg, "complianceSweep", memory=512, timeout=900, reserved=2),
        async_retry_attempts=_bounded(cfg, "asyncRetryAttempts", 2, 0, 2),  # Lambda's limits
        # EventBridge targets and Scheduler accept 0-185 retries and 60-86400 s of age; the age
        # also bounds Lambda's async retries, whose maximum is 21600 s.
        event_retry_attempts=_bounded(cfg, "eventRetryAttempts", 8, 0, 185),
        event_max_age_seconds=_bounded(cfg, "eventMaxAgeSeconds", 3600, 60, 21600),
        log_retention_days=log_retention_days,
        log_level=log_level,
        alert_emails=tuple(cfg.get_object("alertEmails") or ()),
    )


def _stack_domain_name(policy: WardenPolicy, configured: str | None, domain_id: str | None) -> str:
    """Which policy domain the stack's own domain (created, or adopted with domainId) is.

    Every policy domain without an id must be that one, since nothing else could supply its id.
    """
    without_id = [d.name for d in policy.domains if d.id is None]
    name = configured
    if name is None:
        if len(without_id) > 1:
            raise ConfigError(f"policy domains {without_id} have no id; set stackDomainName to the one this stack provides")
        name = without_id[0] if without_id else None
    if name is None:
        if domain_id is None:
            raise ConfigError(
                "every policy domain has an id, so the stack has no domain to create: "
                "set domainId to adopt one, or drop the id of the domain this stack should create"
            )
        by_id = [d.name for d in policy.domains if d.id == domain_id]
        if not by_id:
            raise ConfigError(f"domainId {domain_id} is not a [[domains]] id of the policy, which would not manage it")
        return by_id[0]
    bound = policy.domain(name)
    others = [n for n in without_id if n != name]
    if others:
        raise ConfigError(f"policy domains {others} have no id and are not this stack's domain ({name!r})")
    if bound.id and domain_id is None:
        raise ConfigError(f"policy domain {name!r} already has id {bound.id}; set domainId to adopt it instead of creating one")
    if bound.id and domain_id and bound.id != domain_id:
        raise ConfigError(f"domainId {domain_id} differs from policy domain {name!r} id {bound.id}")
    return name
