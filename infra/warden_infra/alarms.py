"""CloudWatch alarms, all to the alert topic of their region: any function error or throttle,
and any message waiting in a dead-letter queue. Each alarm also notifies when it clears."""

from __future__ import annotations

import pulumi_aws as aws

from .alerts import AlertTopic
from .config import StackConfig
from .functions import WardenFunction

PERIOD_SECONDS = 300


def _alarm(name: str, config: StackConfig, topic: AlertTopic, region: str | None = None, **metric) -> aws.cloudwatch.MetricAlarm:
    return aws.cloudwatch.MetricAlarm(
        name,
        name=f"{config.name_prefix}-{name}",
        comparison_operator="GreaterThanThreshold",
        threshold=0,
        evaluation_periods=1,
        period=PERIOD_SECONDS,
        treat_missing_data="notBreaching",
        alarm_actions=[topic.topic.arn],
        ok_actions=[topic.topic.arn],
        region=region,
        tags=config.tags(),
        **metric,
    )


def function_alarms(config: StackConfig, fn: WardenFunction, topic: AlertTopic) -> None:
    for metric in ("Errors", "Throttles"):
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
