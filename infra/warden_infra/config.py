"""Stack configuration: every key the stack reads, its default, and its validation.

Keys are documented in Pulumi.dev.yaml.example and README.md ("Configuration reference").
Relative paths are resolved against the infra/ directory, whatever the working directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pulumi

from .metrics import CATALOGUE
from .policy import DOMAIN_ID, WardenPolicy, load_policy

INFRA_DIR = Path(__file__).resolve().parent.parent

# Interface endpoints a VPC-only Studio domain needs with no NAT gateway: the SageMaker API and
# runtime (the Studio docs name these two as the minimum), STS (credentials inside apps), CloudWatch
# Logs and metrics (app logs and metrics), Service Catalog (Studio's Projects pages), and ECR's API
# and Docker registry (custom images and Studio's own image pulls from a private ECR). S3 is
# reached through a gateway endpoint (free). Add kms/... with extraInterfaceEndpoints.
DEFAULT_INTERFACE_ENDPOINTS = (
    "sagemaker.api",
    "sagemaker.runtime",
    "sts",
    "logs",
    "monitoring",
    "servicecatalog",
    "ecr.api",
    "ecr.dkr",
)

ENDPOINT_SERVICE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")  # the part after com.amazonaws.<region>.
SCHEDULE_EXPRESSION = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\)|at\(.+\))$")
IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]+$")
SSO_APPLICATION_ARN = re.compile(r"^arn:aws[a-z-]*:sso::\d{12}:application/(sso)?ins-[a-zA-Z0-9-.]{16}/apl-[a-zA-Z0-9]{16}$")
SSO_INSTANCE_ID = re.compile(r"^(sso)?ins-[a-zA-Z0-9-.]{16}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
METRICS_NAMESPACE = re.compile(r"^[\x20-\x7e]{1,255}$")  # CloudWatch: printable ASCII, 1-255 characters
RATE_EXPRESSION = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
RATE_UNIT_SECONDS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


class ConfigError(ValueError):
    """A stack config value is missing, malformed or contradicts the policy file."""


# The deployment shapes (issue 14): today's one-account stack (the default), or one of the
# three parts of an organisation deployment (README, "Deploying to an organisation").
DEPLOYMENTS = ("single", "hub", "spoke", "identity-center")
# Role names the functions assume by default (the contract with the Rust code).
SPOKE_ROLE_NAME = "studio-warden-spoke"
IDENTITY_ROLE_NAME = "studio-warden-identity"
HUB_BUS_NAME = "studio-warden"
EVENT_BUS_ARN = re.compile(r"^arn:(aws[a-z-]*):events:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):event-bus/([\w.-]+)$")
# Lambda's SQS event source: maximum concurrency 2-1000; a FIFO queue's batch at most 10.
MAX_CONCURRENCY_RANGE = (2, 1000)
FIFO_BATCH_RANGE = (1, 10)


@dataclass(frozen=True)
class OrganizationConfig:
    """The keys of an organisation deployment (hub, spoke, identity-center)."""

    org_id: str
    # hub: the name of the bus it creates; spoke and identity-center: the hub's bus ARN.
    hub_bus_name: str
    hub_bus_arn: str | None
    # spoke and identity-center: the hub's two function role ARNs, the only principals trusted.
    hub_function_role_arns: tuple[str, ...]
    spoke_role_name: str = SPOKE_ROLE_NAME
    # identity-center: create the role the hub assumes for Identity Store and sso-admin calls.
    identity_role: bool = False
    identity_role_name: str = IDENTITY_ROLE_NAME
    # hub: the work queue's event source mapping.
    work_batch_size: int = 1
    work_max_concurrency: int = 10

    @property
    def hub_account(self) -> str | None:
        match = EVENT_BUS_ARN.match(self.hub_bus_arn or "")
        return match.group(3) if match else None

    @property
    def hub_region(self) -> str | None:
        match = EVENT_BUS_ARN.match(self.hub_bus_arn or "")
        return match.group(2) if match else None


@dataclass(frozen=True)
class FunctionSettings:
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int


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
    stack_domain_name: str | None  # the policy [[domains]] name of the stack's own domain (single only)
    auth_mode: str
    execution_role_arn: str | None
    # Identity Center applications of SSO-mode domains the stack did not create, by policy name.
    sso_application_arns: dict[str, str]
    identity_center_instance_id: str | None
    identity_center_account_id: str | None  # the account that owns the instance (fallback ARNs)

    # Network extras of a created network.
    s3_organization_id: str | None  # S3 endpoint: the organisation's buckets, else the account's
    # Ledger, triggers, functions, alerts.
    table_deletion_protection: bool
    sweep_schedule: str
    sweep_interval_seconds: int | None  # None: a one-shot at() schedule, no heartbeat
    heartbeat_missed_sweeps: int
    drift_security_group_ids: tuple[str, ...]
    scim_tenant_id: str | None
    membership_sync: FunctionSettings
    compliance_sweep: FunctionSettings
    async_retry_attempts: int
    # Identity Center / Identity Store calls per second, account-wide, that the warden may use
    # (the organisation shares ~20 TPS). Split evenly over the functions' reserved concurrency.
    identity_center_tps: int
    event_retry_attempts: int
    event_max_age_seconds: int
    log_retention_days: int
    log_level: str
    alert_emails: tuple[str, ...]
    # Metrics (shared/metrics.json): the namespace the functions write to (WARDEN_METRICS_NAMESPACE)
    # and how many sweeps in a row may end incomplete before the alarm fires.
    metrics_namespace: str = "StudioWarden"
    sweep_incomplete_runs: int = 3
    # The deployment shape; `org` is set for every shape but "single".
    deployment: str = "single"
    org: OrganizationConfig | None = None

    def __post_init__(self) -> None:
        if self.deployment == "hub" and self.org and self.compliance_sweep.reserved_concurrency <= self.org.work_max_concurrency:
            # Lambda throttles an SQS event source whose maximum concurrency exceeds the
            # function's reserved concurrency; the scheduled sweep needs one more on top.
            raise ConfigError(
                f"complianceSweepReservedConcurrency {self.compliance_sweep.reserved_concurrency} must exceed "
                f"workQueueMaximumConcurrency {self.org.work_max_concurrency}: the workers run in compliance-sweep too"
            )

    @property
    def creates_domain(self) -> bool:
        return self.deployment == "single" and self.domain_id is None

    @property
    def creates_network(self) -> bool:
        return self.creates_domain and self.vpc_id is None

    @property
    def identity_tps_per_invocation(self) -> int:
        """WARDEN_IDENTITY_TPS of each function: the account-wide budget over every invocation
        that can run at once, so that concurrency x per-invocation rate stays within it."""
        concurrent = self.membership_sync.reserved_concurrency + self.compliance_sweep.reserved_concurrency
        per_invocation = self.identity_center_tps // concurrent
        if per_invocation < 1:
            raise ConfigError(
                f"identityCenterTps {self.identity_center_tps} cannot be shared by {concurrent} concurrent invocations "
                "(membershipSyncReservedConcurrency + complianceSweepReservedConcurrency): raise it or lower them"
            )
        return per_invocation

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
    if settings.reserved_concurrency is None or settings.reserved_concurrency < 1:
        # Always reserved: the Identity Center rate limit only holds account-wide when the
        # number of concurrent invocations is bounded.
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

    sso_application_arns = cfg.get_object("ssoApplicationArns") or {}
    if not isinstance(sso_application_arns, dict):
        raise ConfigError(
            "ssoApplicationArns maps a policy [[domains]] name to that domain's Identity Center application ARN "
            '(e.g. {"research": "arn:aws:sso::111122223333:application/ssoins-.../apl-..."}), not a list'
        )
    for name, arn in sso_application_arns.items():
        policy.domain(name)  # a name the policy declares
        if not isinstance(arn, str) or not SSO_APPLICATION_ARN.match(arn):
            raise ConfigError(f"ssoApplicationArns.{name}: {arn!r} is not an Identity Center application ARN")
    instance_id = cfg.get("identityCenterInstanceId")
    if instance_id and not SSO_INSTANCE_ID.match(instance_id):
        raise ConfigError(f"identityCenterInstanceId {instance_id!r} is not an instance id (ssoins-...)")
    instance_account = cfg.get("identityCenterAccountId")
    if instance_account and not ACCOUNT_ID.match(instance_account):
        raise ConfigError(f"identityCenterAccountId {instance_account!r} is not a 12-digit account id")
    if instance_id and not instance_account:
        # An application ARN names the account that owns the Identity Center instance (the
        # organisation's management account for an organisation instance), which is not the
        # deploying account when the stack runs in the delegated administrator account.
        raise ConfigError(
            "identityCenterInstanceId needs identityCenterAccountId: the account that owns the Identity Center "
            "instance (for an organization instance, the management account), whose id is in every application ARN"
        )

    sweep_schedule = cfg.get("sweepSchedule") or "rate(15 minutes)"
    if not SCHEDULE_EXPRESSION.match(sweep_schedule):
        raise ConfigError(f"sweepSchedule {sweep_schedule!r} is not a rate(), cron() or at() expression")
    sweep_interval = _sweep_interval(sweep_schedule, _int(cfg, "sweepIntervalSeconds", None))
    missed_sweeps = _bounded(cfg, "heartbeatMissedSweeps", 3, 1, 24)
    if sweep_interval and sweep_interval * missed_sweeps > 86400:
        raise ConfigError(
            f"the sweep heartbeat would look back {sweep_interval * missed_sweeps} s; CloudWatch alarms evaluate at most "
            "one day: lower heartbeatMissedSweeps or sweep more often"
        )

    incomplete_runs = _bounded(cfg, "sweepIncompleteRuns", 3, 1, 24)
    if sweep_interval and sweep_interval * incomplete_runs > 86400:
        raise ConfigError(
            f"the sweep-incomplete alarm would look back {sweep_interval * incomplete_runs} s; CloudWatch alarms evaluate "
            "at most one day: lower sweepIncompleteRuns or sweep more often"
        )
    metrics_namespace = cfg.get("metricsNamespace") or CATALOGUE.namespace
    if not METRICS_NAMESPACE.match(metrics_namespace) or metrics_namespace.startswith(":"):
        raise ConfigError(f"metricsNamespace {metrics_namespace!r}: 1-255 printable ASCII characters, not starting with ':'")

    drift_groups = tuple(cfg.get_object("driftSecurityGroupIds") or ())
    for group in drift_groups:
        if not isinstance(group, str) or not re.match(r"^sg-[0-9a-f]{4,17}$", group):
            raise ConfigError(f"driftSecurityGroupIds: {group!r} is not a security group id")
    s3_org = cfg.get("s3EndpointOrganizationId")
    if s3_org and not ORGANIZATION_ID.match(s3_org):
        raise ConfigError(f"s3EndpointOrganizationId {s3_org!r} is not an organization id (o-...)")

    deployment, org = _organization(cfg, policy)
    if deployment != "single":
        single_only = [k for k in ("domainId", "vpcId", "subnetIds", "securityGroupIds", "stackDomainName", "executionRoleArn") if cfg.get(k)]
        if single_only:
            raise ConfigError(f"{', '.join(single_only)}: single-account keys; a {deployment} deployment creates and adopts no domain")

    zone_count = _bounded(cfg, "availabilityZoneCount", 2, 2, 6)  # Studio subnets in at least two AZs

    log_level = (cfg.get("logLevel") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"logLevel must be one of {', '.join(LOG_LEVELS)}")
    if log_level in ("WARN", "ERROR"):
        # Lambda's level filter files a JSON line without a "level" as INFO: above INFO it would
        # drop the functions' metrics records, and the dashboard and alarms would see nothing.
        raise ConfigError(
            f"logLevel {log_level} would make Lambda drop the functions' metrics records (INFO-level lines): "
            "use INFO, DEBUG or TRACE"
        )

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
        stack_domain_name=_stack_domain_name(policy, cfg.get("stackDomainName"), domain_id) if deployment == "single" else None,
        auth_mode=auth_mode,
        execution_role_arn=execution_role_arn,
        sso_application_arns=dict(sso_application_arns),
        identity_center_instance_id=instance_id,
        identity_center_account_id=instance_account,
        s3_organization_id=s3_org,
        table_deletion_protection=cfg.get_bool("tableDeletionProtection") is not False,
        sweep_schedule=sweep_schedule,
        sweep_interval_seconds=sweep_interval,
        heartbeat_missed_sweeps=missed_sweeps,
        drift_security_group_ids=drift_groups,
        scim_tenant_id=cfg.get("scimTenantId"),
        # Memory and timeouts: BENCHMARKS.md records the measurements behind these defaults.
        # Reserved concurrency 2 for membership-sync: each invocation paces its Identity Center
        # calls (CallRate), so the account-wide rate is at most concurrency x per-invocation rate;
        # an unbounded burst of events would otherwise multiply it past the shared ~20 TPS.
        membership_sync=_function(cfg, "membershipSync", memory=256, timeout=60, reserved=2),
        # Reserved concurrency 2 for the sweep: one scheduled sweep plus one drift check at a time.
        # More would only contend for the SageMaker List APIs (a few calls per second) and the
        # Identity Center's shared ~20 TPS; fewer would queue drift checks behind a long sweep.
        # A hub's sweep also runs the work queue's workers: their maximum concurrency on top.
        compliance_sweep=_function(
            cfg, "complianceSweep", memory=512, timeout=900, reserved=2 + (org.work_max_concurrency if deployment == "hub" else 0)
        ),
        async_retry_attempts=_bounded(cfg, "asyncRetryAttempts", 2, 0, 2),  # Lambda's limits
        identity_center_tps=_bounded(cfg, "identityCenterTps", 16, 1, 20),
        # EventBridge targets and Scheduler accept 0-185 retries and 60-86400 s of age; the age
        # also bounds Lambda's async retries, whose maximum is 21600 s.
        event_retry_attempts=_bounded(cfg, "eventRetryAttempts", 8, 0, 185),
        event_max_age_seconds=_bounded(cfg, "eventMaxAgeSeconds", 3600, 60, 21600),
        log_retention_days=log_retention_days,
        log_level=log_level,
        alert_emails=tuple(cfg.get_object("alertEmails") or ()),
        metrics_namespace=metrics_namespace,
        sweep_incomplete_runs=incomplete_runs,
        deployment=deployment,
        org=org,
    )


def _organization(cfg: pulumi.Config, policy: WardenPolicy) -> tuple[str, OrganizationConfig | None]:
    deployment = cfg.get("deployment") or "single"
    if deployment not in DEPLOYMENTS:
        raise ConfigError(f"deployment must be one of {', '.join(DEPLOYMENTS)}, got {deployment!r}")
    org_keys = ("orgId", "hubBusName", "hubBusArn", "hubFunctionRoleArns", "spokeRoleName", "identityRole", "workQueueBatchSize", "workQueueMaximumConcurrency")
    if deployment == "single":
        stray = [k for k in org_keys if cfg.get(k) is not None]
        if stray:
            raise ConfigError(f"{', '.join(stray)}: organisation keys; set deployment (hub, spoke, identity-center) to use them")
        return deployment, None

    org_id = cfg.get("orgId")
    if not org_id or not ORGANIZATION_ID.match(org_id):
        raise ConfigError(f"a {deployment} deployment needs orgId, the organisation id (o-...), got {org_id!r}")
    bus_name = cfg.get("hubBusName") or HUB_BUS_NAME
    if not re.match(r"^[\w.-]{1,256}$", bus_name) or bus_name == "default":
        raise ConfigError(f"hubBusName {bus_name!r} is not a custom event bus name")
    bus_arn = cfg.get("hubBusArn")
    roles = tuple(cfg.get_object("hubFunctionRoleArns") or ())
    if deployment == "hub":
        if bus_arn or roles:
            raise ConfigError("hubBusArn and hubFunctionRoleArns name the hub to spokes and the identity-center stack; the hub knows its own")
        undeclared = [d.name for d in policy.domains if not d.id]
        if undeclared:
            raise ConfigError(f"policy domains {undeclared} have no id: a hub creates no domain, so every domain needs its id")
    else:
        match = EVENT_BUS_ARN.match(bus_arn or "")
        if not match or match.group(4) == "default":
            raise ConfigError(f"a {deployment} deployment needs hubBusArn, the hub's custom event bus ARN (stack output hubEventBusArn), got {bus_arn!r}")
        hub_account = match.group(3)
        if len(roles) != 2 or not all(isinstance(r, str) and IAM_ROLE_ARN.match(r) and r.split(":")[4] == hub_account for r in roles):
            raise ConfigError(
                f"hubFunctionRoleArns must be the hub's two function role ARNs in account {hub_account} "
                f"(stack output hubFunctionRoleArns), got {roles!r}"
            )
    role_name = cfg.get("spokeRoleName") or SPOKE_ROLE_NAME
    if not re.match(r"^[\w+=,.@-]{1,64}$", role_name):
        raise ConfigError(f"spokeRoleName {role_name!r} is not an IAM role name")
    return deployment, OrganizationConfig(
        org_id=org_id,
        hub_bus_name=bus_name,
        hub_bus_arn=bus_arn,
        hub_function_role_arns=tuple(sorted(roles)),
        spoke_role_name=role_name,
        identity_role=cfg.get_bool("identityRole") is True,
        work_batch_size=_bounded(cfg, "workQueueBatchSize", 1, *FIFO_BATCH_RANGE),
        work_max_concurrency=_bounded(cfg, "workQueueMaximumConcurrency", 10, *MAX_CONCURRENCY_RANGE),
    )


def _sweep_interval(expression: str, configured: int | None) -> int | None:
    """Seconds between sweeps: from a rate() expression, or sweepIntervalSeconds for cron();
    None for a one-shot at() schedule."""
    rate = RATE_EXPRESSION.match(expression)
    if rate:
        seconds = int(rate.group(1)) * RATE_UNIT_SECONDS[rate.group(2)]
        if configured is not None and configured != seconds:
            raise ConfigError(f"sweepIntervalSeconds {configured} contradicts sweepSchedule {expression}")
        return seconds
    if expression.startswith("at("):
        return None
    if configured is None:
        raise ConfigError(
            f"sweepSchedule {expression} is a cron() expression: set sweepIntervalSeconds to its longest gap "
            "between runs, which the sweep heartbeat alarm needs"
        )
    if configured < 60:
        raise ConfigError("sweepIntervalSeconds must be at least 60")
    return configured


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


def sso_applications(config: StackConfig, ctx, stack_domain) -> list:
    """The Identity Center applications the functions may assign users to, one per SSO-mode
    domain, or a refusal before deploy when an SSO-mode domain's application cannot be known.

    - the domain the stack creates: its own SingleSignOnApplicationArn (SSO mode only);
    - any other domain: `ssoApplicationArns.<policy name>`, else, with identityCenterInstanceId,
      every application of the instance, in the account that owns it;
    - a domain the policy's baseline declares SSO with neither: refused (its users' first
      onboarding would fail with AccessDenied on sso:CreateApplicationAssignment).
    """
    arns: list = []
    fallback = None
    if config.identity_center_instance_id:
        fallback = ctx.sso_instance_applications(config.identity_center_instance_id, config.identity_center_account_id)
        arns.append(fallback)
    for domain in config.policy.domains:
        created = config.creates_domain and domain.name == config.stack_domain_name
        if created:
            if domain.auth_mode and domain.auth_mode != config.auth_mode:
                raise ConfigError(
                    f"policy domain {domain.name!r} requires auth mode {domain.auth_mode} (baseline auth_mode) "
                    f"but the stack would create it with domainAuthMode {config.auth_mode}"
                )
            if config.auth_mode == "SSO":
                arns.append(stack_domain.sso_application_arn)
            continue
        given = config.sso_application_arns.get(domain.name)
        if given:
            arns.append(given)
        elif domain.auth_mode == "SSO" and not fallback:
            raise ConfigError(
                f"policy domain {domain.name!r} is an SSO-mode domain the stack did not create: set "
                f"ssoApplicationArns.{domain.name} to its Identity Center application ARN (aws sagemaker describe-domain "
                f"--domain-id {domain.id or config.domain_id} --query SingleSignOnApplicationArn), or "
                "identityCenterInstanceId and identityCenterAccountId; without it, assigning its users fails"
            )
        elif domain.auth_mode is None and not fallback:
            pulumi.log.warn(
                f"policy domain {domain.name!r} declares no baseline auth_mode and has no ssoApplicationArns entry: "
                "if it is an SSO-mode domain, onboarding its users will fail with AccessDenied"
            )
    return arns
