"""The whole studio-warden stack, in dependency order. Each step lives in its own module."""

from __future__ import annotations

import pulumi

from .alarms import function_alarms, queue_depth_alarm, rule_alarms, schedule_alarms, sweep_heartbeat
from .alerts import create_alert_topic
from .aws_context import AwsContext
from .config import load_config, sso_applications
from .dashboard import create_dashboard, metric_alarms
from .domain import adopt_domain, create_domain
from .functions import SharedResources, create_function
from .keys import create_key
from .ledger import create_ledger
from .hub import build_hub
from .identity_center import build_identity_center
from .network import adopt_network, create_network
from .spoke import build_spoke
from .triggers import create_drift_trigger, create_membership_trigger, create_sweep_schedule


def build() -> dict[str, pulumi.Input]:
    config = load_config()
    ctx = AwsContext.current()
    # An organisation deployment (README, "Deploying to an organisation"); the default is the
    # single-account stack below.
    organisation = {"hub": build_hub, "spoke": build_spoke, "identity-center": build_identity_center}
    if config.deployment in organisation:
        return organisation[config.deployment](config, ctx)

    data_key = create_key("data-key", config, ctx, description=f"studio-warden {config.stack}: domain volumes and ledger")
    alerts = create_alert_topic(config, ctx)

    # The security groups whose rule changes are drift events: the policy's and the config's,
    # plus the Studio groups of the network the stack's domain runs in.
    drift_security_groups: list = sorted(set(config.policy.security_groups) | set(config.drift_security_group_ids))
    if config.creates_domain:
        network = create_network(config, ctx) if config.creates_network else adopt_network(config)
        domain = create_domain(config, ctx, network, data_key)
        drift_security_groups += list(network.studio_security_group_ids)
    else:
        domain = adopt_domain(config, ctx)

    ledger = create_ledger(config, data_key)

    # The domains the functions manage: the policy's, with the stack's own domain's id filled in.
    other_domain_ids = [d.id for d in config.policy.domains if d.name != config.stack_domain_name]
    domain_ids = [*other_domain_ids, domain.id]
    sso_application_arns = sso_applications(config, ctx, domain)

    shared = SharedResources(
        domain_ids=domain_ids,
        domain_ids_env=pulumi.Output.json_dumps({config.stack_domain_name: domain.id}),
        sso_application_arns=sso_application_arns,
        table=ledger,
        topic=alerts.topic,
        data_key=data_key,
        alerts_key=alerts.key,
    )
    membership_sync = create_function(
        "membership-sync",
        "Identity Center membership change -> SageMaker profiles (studio-warden)",
        config.membership_sync,
        config,
        ctx,
        shared,
    )
    compliance_sweep = create_function(
        "compliance-sweep",
        "Scheduled reconcile and drift checks of every managed domain (studio-warden)",
        config.compliance_sweep,
        config,
        ctx,
        shared,
    )

    membership_rule, forward_dlq = create_membership_trigger(config, ctx, membership_sync)
    drift_rule = create_drift_trigger(config, compliance_sweep, domain_ids, drift_security_groups)
    _, schedule_group = create_sweep_schedule(config, ctx, compliance_sweep)

    for fn in (membership_sync, compliance_sweep):
        function_alarms(config, fn, alerts)
        queue_depth_alarm(f"{fn.name}-delivery-dlq", config, fn.delivery_dlq, alerts)
        queue_depth_alarm(f"{fn.name}-failure-dlq", config, fn.failure_dlq, alerts)
    rule_alarms("membership-events", config, membership_rule, alerts)
    rule_alarms("drift-events", config, drift_rule, alerts)
    schedule_alarms(config, schedule_group, alerts)
    sweep_heartbeat(config, compliance_sweep, alerts)
    own_alarms = metric_alarms(config, membership_sync, compliance_sweep, alerts)
    create_dashboard(config, ctx.region, membership_sync, compliance_sweep, own_alarms)

    outputs: dict[str, pulumi.Input] = {
        "studioUrl": domain.url,
        "domainId": domain.id,
        "ledgerTable": ledger.name,
        "alertTopicArn": alerts.topic.arn,
        "membershipSyncFunction": membership_sync.function.name,
        "complianceSweepFunction": compliance_sweep.function.name,
    }
    if forward_dlq:
        # CloudWatch alarms notify only topics in their own region: one more topic there.
        home_alerts = create_alert_topic(config, ctx, region=forward_dlq.region)
        queue_depth_alarm("membership-forward-dlq", config, forward_dlq.queue, home_alerts, region=forward_dlq.region)
        rule_alarms("membership-events-forward", config, forward_dlq.rule, home_alerts, region=forward_dlq.region)
        outputs["homeRegionAlertTopicArn"] = home_alerts.topic.arn
    return outputs
