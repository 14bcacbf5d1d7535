"""Alarms on function errors, throttles and dead-letter queue depth, all to the alert topic."""

import pytest

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def alarms(stack):
    return {a.name: a.inputs for a in stack.of_type(ALARM)}


def assert_fires_on_first_occurrence(alarm, topic_arn):
    assert alarm["comparisonOperator"] == "GreaterThanThreshold"
    assert alarm["threshold"] == 0
    assert alarm["evaluationPeriods"] == 1
    assert alarm["treatMissingData"] == "notBreaching"
    assert alarm["alarmActions"] == [topic_arn]
    assert alarm["okActions"] == [topic_arn]


@pytest.mark.parametrize("name", ["membership-sync", "compliance-sweep"])
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_function_errors_and_throttles_alarm_to_the_topic(stack, name, metric):
    alarm = alarms(stack)[f"{name}-{metric.lower()}"]
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/Lambda", metric, "Sum")
    assert alarm["dimensions"] == {"FunctionName": stack.named(name).outputs["name"]}
    assert_fires_on_first_occurrence(alarm, stack.outputs["alertTopicArn"])


def test_every_dead_letter_queue_has_a_depth_alarm_to_the_topic(stack):
    queues = {q.outputs["name"]: q.name for q in stack.of_type("aws:sqs/queue:Queue")}
    by_queue = {
        a["dimensions"]["QueueName"]: a
        for a in alarms(stack).values()
        if a["namespace"] == "AWS/SQS"
    }
    assert set(by_queue) == set(queues), "each queue needs exactly one depth alarm"
    for alarm in by_queue.values():
        assert alarm["metricName"] == "ApproximateNumberOfMessagesVisible"
        assert_fires_on_first_occurrence(alarm, stack.outputs["alertTopicArn"])
