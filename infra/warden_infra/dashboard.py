"""The functions' own metrics (shared/metrics.json, written by the functions as embedded
metric format records): a CloudWatch dashboard, and the alarms an operator acts on, all to the
alert topic:

- sweep-incomplete: the sweep ended incomplete (cut by its deadline, or failed) in N sweep
  intervals in a row; the work is not getting done;
- hold-waiting: a hold waits for an operator's decision (approve or discard);
- <function>-failures: failures in every window of an hour (not a blip the next run repaired);
- critical-finding-open: a critical drift or safety finding is open.

Every metric name goes through the catalogue (KeyError for one the functions do not emit)."""

from __future__ import annotations

import json
import math

import pulumi
import pulumi_aws as aws

from .alarms import _alarm
from .alerts import AlertTopic
from .config import StackConfig
from .functions import WardenFunction
from .metrics import CATALOGUE

# Failures "above zero for an hour": every window of the hour had some. A window is at least
# 15 minutes, and at least one sweep interval for the sweep (a window with no sweep has no data).
FAILURE_WINDOW_SECONDS = 900
HOUR_SECONDS = 3600
# The period of the sweep's gauges when the schedule has no rhythm (a one-shot at()).
DEFAULT_SWEEP_PERIOD = 900


def _metric(config: StackConfig, fn: WardenFunction, name: str, **settings) -> dict:
    return dict(
        namespace=config.metrics_namespace,
        metric_name=CATALOGUE.name(name),
        dimensions={CATALOGUE.dimension: fn.function.name},
        **settings,
    )


def failure_window(config: StackConfig, sweep: bool) -> tuple[int, int]:
    """(period, periods): windows that cover an hour, each at least a sweep interval long for
    the sweep (one sweep per window)."""
    period = FAILURE_WINDOW_SECONDS
    if sweep and config.sweep_interval_seconds:
        period = max(period, math.ceil(config.sweep_interval_seconds / 60) * 60)
    return period, max(1, HOUR_SECONDS // period)


def metric_alarms(
    config: StackConfig, membership_sync: WardenFunction, compliance_sweep: WardenFunction, topic: AlertTopic
) -> list[aws.cloudwatch.MetricAlarm]:
    alarms = []
    for fn in (membership_sync, compliance_sweep):
        period, periods = failure_window(config, sweep=fn is compliance_sweep)
        alarms.append(
            _alarm(
                f"{fn.name}-failures",
                config,
                topic,
                alarm_description=(
                    f"{fn.name}: failures in every {period // 60}-minute window for an hour; they are not going away by "
                    "themselves. Read the function's logs and the invocation responses' failures (README: Metrics and alarms)"
                ),
                statistic="Sum",
                period=period,
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                **_metric(config, fn, "Failures"),
            )
        )
    sweep_period = config.sweep_interval_seconds or DEFAULT_SWEEP_PERIOD
    if config.sweep_interval_seconds:
        runs = config.sweep_incomplete_runs
        alarms.append(
            _alarm(
                "sweep-incomplete",
                config,
                topic,
                alarm_description=(
                    f"the sweep ended incomplete {runs} sweep intervals in a row: the deadline cuts it or it fails. "
                    "Raise complianceSweepTimeoutSeconds, look for AwsThrottles, or read its failures"
                ),
                statistic="Minimum",  # one complete sweep in an interval breaks the streak
                period=config.sweep_interval_seconds,
                evaluation_periods=runs,
                datapoints_to_alarm=runs,
                **_metric(config, compliance_sweep, "SweepIncomplete"),
            )
        )
    # Gauges the sweep restates each run: between sweeps there is no data, and the state stays.
    alarms.append(
        _alarm(
            "hold-waiting",
            config,
            topic,
            alarm_description=(
                "a hold waits for an operator: leavers are held back by the safety net. Inspect it with "
                '{"mode":"plan"}, then invoke compliance-sweep with {"mode":"approve","hold":"<id>"} or {"mode":"discard",...}'
            ),
            statistic="Maximum",
            period=sweep_period,
            treat_missing_data="ignore",
            **_metric(config, compliance_sweep, "HoldsPending"),
        )
    )
    alarms.append(
        _alarm(
            "critical-finding-open",
            config,
            topic,
            alarm_description=(
                "a critical drift or safety finding is open (its own SNS alert names it): fix the drift, or exempt it "
                "in the policy's [[domains.baseline.exemptions]]"
            ),
            statistic="Maximum",
            period=sweep_period,
            treat_missing_data="ignore",
            **_metric(config, compliance_sweep, "OpenFindings.critical"),
        )
    )
    return alarms


def _graph(title: str, region: str, namespace: str, lines: list[tuple[str, str]], stat: str = "Sum", width: int = 12) -> dict:
    """A line graph of `lines` ((metric name, function name) pairs)."""
    return {
        "type": "metric",
        "width": width,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "stat": stat,
            "period": 300,
            "view": "timeSeries",
            "metrics": [[namespace, CATALOGUE.name(m), CATALOGUE.dimension, fn] for m, fn in lines],
        },
    }


def dashboard_body(namespace: str, region: str, membership_sync: str, compliance_sweep: str, alarm_arns: list[str]) -> dict:
    """The dashboard: what the functions did, what waits for an operator, and how AWS answered."""
    both = (membership_sync, compliance_sweep)

    def each(names: list[str], fns=both) -> list[tuple[str, str]]:
        return [(m, fn) for fn in fns for m in names]

    return {
        "widgets": [
            {"type": "alarm", "width": 24, "height": 3, "properties": {"title": "studio-warden alarms", "alarms": sorted(alarm_arns)}},
            _graph("Actions done, by kind", region, namespace, each(CATALOGUE.family("Actions"))),
            _graph(
                "Failures and errors",
                region,
                namespace,
                each(["Failures", "Errors", *CATALOGUE.family("FailedActions"), *CATALOGUE.family("Errors")]),
            ),
            _graph("Users deferred, blocked, held", region, namespace, each(["DeferredUsers", "BlockedUsers", "HeldUsers"]), stat="Maximum"),
            _graph(
                "Open findings by severity, pending holds (after each sweep)",
                region,
                namespace,
                each([*CATALOGUE.family("OpenFindings"), "HoldsPending"], fns=(compliance_sweep,)),
                stat="Maximum",
            ),
            _graph("Sweep duration (ms)", region, namespace, each(["SweepDuration"], fns=(compliance_sweep,)), stat="Maximum"),
            _graph("Sweeps incomplete", region, namespace, each(["SweepIncomplete", "Invocations"], fns=(compliance_sweep,))),
            _graph("AWS calls by service", region, namespace, each(CATALOGUE.family("AwsCalls"))),
            _graph(
                "AWS throttles and retries by service",
                region,
                namespace,
                each([*CATALOGUE.family("AwsThrottles"), *CATALOGUE.family("AwsRetries")]),
            ),
        ]
    }


def create_dashboard(
    config: StackConfig,
    region: str,
    membership_sync: WardenFunction,
    compliance_sweep: WardenFunction,
    alarms: list[aws.cloudwatch.MetricAlarm],
) -> aws.cloudwatch.Dashboard:
    body = pulumi.Output.all(
        membership_sync.function.name, compliance_sweep.function.name, *[a.arn for a in alarms]
    ).apply(lambda v: json.dumps(dashboard_body(config.metrics_namespace, region, v[0], v[1], list(v[2:]))))
    return aws.cloudwatch.Dashboard(
        "dashboard",
        dashboard_name=config.name_prefix,
        dashboard_body=body,
    )
