"""CloudWatch alarms, all to the alert topic of their region, for everything that can fail
silently: any function error, throttle or undeliverable failure record; any message waiting in a
dead-letter queue; a rule or schedule that could not invoke its target, or not even dead-letter
the event; and a heartbeat when no complete sweep has been recorded for N intervals. Each alarm
also notifies when it clears."""

from __future__ import annotations

import pulumi_aws as aws

from .alerts import AlertTopic
from .config import StackConfig
from .functions import WardenFunction

PERIOD_SECONDS = 300


def _alarm(name: str, config: StackConfig, topic: AlertTopic, region: str | None = None, **metric) -> aws.cloudwatch.MetricAlarm:
    settings = dict(
        comparison_operator="GreaterThanThreshold",
        threshold=0,
        evaluation_periods=1,
        period=PERIOD_SECONDS,
        treat_missing_data="notBreaching",
    )
    settings.update(metric)
    return aws.cloudwatch.MetricAlarm(
        name,
        name=f"{config.name_prefix}-{name}",
        alarm_actions=[topic.topic.arn],
        ok_actions=[topic.topic.arn],
        region=region,
        tags=config.tags(),
        **settings,
    )


def function_alarms(config: StackConfig, fn: WardenFunction, topic: AlertTopic) -> None:
    # DestinationDeliveryFailures: Lambda could not even put a failed async invocation's record
    # into the failure queue; the event is then lost with no trace but this metric.
    for metric in ("Errors", "Throttles", "DestinationDeliveryFailures"):
        _alarm(
            f"{fn.name}-{metric.lower()}",
            config,
            topic,
            alarm_description=f"{fn.name}: {metric} > 0 in {PERIOD_SECONDS // 60} minutes",
            namespace="AWS/Lambda",
            metric_name=metric,
            statistic="Sum",
            dimensions={"FunctionName": fn.function.name},
        )


def queue_depth_alarm(name: str, config: StackConfig, queue: aws.sqs.Queue, topic: AlertTopic, region: str | None = None) -> None:
    _alarm(
        f"{name}-depth",
        config,
        topic,
        region=region,
        alarm_description=f"{name}: messages are waiting; inspect, then redrive or purge",
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        statistic="Maximum",
        dimensions={"QueueName": queue.name},
    )


# EventBridge (AWS/Events, by RuleName): the rule matched but could not invoke its target after
# its retries, and could not even put the event into the dead-letter queue.
RULE_METRICS = ("FailedInvocations", "InvocationsFailedToBeSentToDlq")
# EventBridge Scheduler (AWS/Scheduler, by ScheduleGroup): the target answered with an error, or
# the failed invocation could not be dead-lettered.
SCHEDULE_METRICS = ("TargetErrorCount", "InvocationsFailedToBeSentToDeadLetterCount")


def rule_alarms(name: str, config: StackConfig, rule: aws.cloudwatch.EventRule, topic: AlertTopic, region: str | None = None) -> None:
    for metric in RULE_METRICS:
        _alarm(
            f"{name}-{metric}",
            config,
            topic,
            region=region,
            alarm_description=f"rule {name}: {metric} > 0: events matched but did not reach their target",
            namespace="AWS/Events",
            metric_name=metric,
            statistic="Sum",
            dimensions={"RuleName": rule.name},
        )


def schedule_alarms(config: StackConfig, group: aws.scheduler.ScheduleGroup, topic: AlertTopic) -> None:
    for metric in SCHEDULE_METRICS:
        _alarm(
            f"sweep-schedule-{metric}",
            config,
            topic,
            alarm_description=f"sweep schedule: {metric} > 0: a scheduled sweep did not run",
            namespace="AWS/Scheduler",
            metric_name=metric,
            statistic="Sum",
            dimensions={"ScheduleGroup": group.name},
        )


# The compliance sweep's summary line (shared/src/engine.rs, `Engine::sweep`): tracing's JSON
# format puts the event's fields under "fields"; `mode` is the Debug form of the Mode enum.
COMPLETE_SWEEP_FILTER = '{ ($.fields.message = "sweep finished") && ($.fields.mode = "Apply") && ($.fields.complete IS TRUE) }'
HEARTBEAT_METRIC = "CompleteSweeps"


def heartbeat_namespace(config: StackConfig) -> str:
    return f"studio-warden/{config.name_prefix}"


def sweep_heartbeat(config: StackConfig, sweep: WardenFunction, topic: AlertTopic) -> None:
    """Fires when no complete apply-mode sweep has been logged for `heartbeatMissedSweeps`
    sweep intervals: the schedule disabled or deleted, the sweep always timing out or failing,
    a role that lost a permission. A missing data point counts as a missed sweep."""
    if config.sweep_interval_seconds is None:
        return  # a one-shot at() schedule has no rhythm to miss
    aws.cloudwatch.LogMetricFilter(
        "complete-sweeps",
        name=f"{config.name_prefix}-complete-sweeps",
        log_group_name=sweep.log_group.name,
        pattern=COMPLETE_SWEEP_FILTER,
        metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
            name=HEARTBEAT_METRIC,
            namespace=heartbeat_namespace(config),
            value="1",
            unit="Count",
        ),
    )
    missed = config.heartbeat_missed_sweeps
    _alarm(
        "sweep-heartbeat",
        config,
        topic,
        alarm_description=f"no complete sweep logged for {missed} sweep intervals ({config.sweep_schedule})",
        namespace=heartbeat_namespace(config),
        metric_name=HEARTBEAT_METRIC,
        statistic="Sum",
        comparison_operator="LessThanThreshold",
        threshold=1,
        period=config.sweep_interval_seconds,
        evaluation_periods=missed,
        datapoints_to_alarm=missed,
        treat_missing_data="breaching",
    )
