"""Alarms on function errors, throttles and dead-letter queue depth, all to the alert topic."""

import json

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
@pytest.mark.parametrize("metric", ["Errors", "Throttles", "DestinationDeliveryFailures"])
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


@pytest.mark.parametrize("rule", ["membership-events", "drift-events"])
@pytest.mark.parametrize("metric", ["FailedInvocations", "InvocationsFailedToBeSentToDlq"])
def test_each_rule_alarms_when_it_cannot_deliver(stack, rule, metric):
    alarm = alarms(stack)[f"{rule}-{metric}"]
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/Events", metric, "Sum")
    assert alarm["dimensions"] == {"RuleName": stack.named(rule).outputs["name"]}
    assert_fires_on_first_occurrence(alarm, stack.outputs["alertTopicArn"])


def test_the_forwarding_rule_alarms_in_its_own_region(synth):
    stack = synth(region="eu-west-1")
    for metric in ("FailedInvocations", "InvocationsFailedToBeSentToDlq"):
        alarm = alarms(stack)[f"membership-events-forward-{metric}"]
        assert alarm["region"] == "us-east-1"
        assert alarm["dimensions"] == {"RuleName": stack.named("membership-events-forward").outputs["name"]}
        assert_fires_on_first_occurrence(alarm, stack.outputs["homeRegionAlertTopicArn"])


@pytest.mark.parametrize("metric", ["TargetErrorCount", "InvocationsFailedToBeSentToDeadLetterCount"])
def test_the_sweep_schedule_alarms_when_its_target_fails(stack, metric):
    alarm = alarms(stack)[f"sweep-schedule-{metric}"]
    group = stack.named("sweep-schedule-group")
    assert stack.one("aws:scheduler/schedule:Schedule").inputs["groupName"] == group.outputs["name"]
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/Scheduler", metric, "Sum")
    assert alarm["dimensions"] == {"ScheduleGroup": group.outputs["name"]}
    assert_fires_on_first_occurrence(alarm, stack.outputs["alertTopicArn"])


def test_a_heartbeat_fires_when_no_complete_sweep_is_recorded_for_n_intervals(stack, synth):
    """The sweep logs `sweep finished` with `complete` (shared/src/engine.rs); a metric filter
    counts the complete apply-mode ones, and a missing data point is a missed sweep."""
    flt = stack.one("aws:cloudwatch/logMetricFilter:LogMetricFilter").inputs
    assert flt["logGroupName"] == stack.named("compliance-sweep-logs").outputs["name"]
    for term in ('$.fields.message = "sweep finished"', "$.fields.complete IS TRUE", '$.fields.mode = "Apply"'):
        assert term in flt["pattern"]
    transform = flt["metricTransformation"]
    alarm = alarms(stack)["sweep-heartbeat"]
    assert (alarm["namespace"], alarm["metricName"]) == (transform["namespace"], transform["name"])
    assert transform["value"] == "1"
    assert alarm["comparisonOperator"] == "LessThanThreshold" and alarm["threshold"] == 1
    assert alarm["statistic"] == "Sum"
    assert alarm["treatMissingData"] == "breaching"
    assert alarm["period"] == 15 * 60, "one sweep interval of rate(15 minutes)"
    assert alarm["evaluationPeriods"] == alarm["datapointsToAlarm"] == 3
    assert alarm["alarmActions"] == [stack.outputs["alertTopicArn"]]
    hourly = alarms(synth(sweepSchedule="rate(1 hour)", heartbeatMissedSweeps=2))["sweep-heartbeat"]
    assert (hourly["period"], hourly["evaluationPeriods"]) == (3600, 2)
    with pytest.raises(Exception, match="sweepIntervalSeconds"):
        synth(sweepSchedule="cron(0 * * * ? *)")
    cron = alarms(synth(sweepSchedule="cron(0 * * * ? *)", sweepIntervalSeconds=3600))["sweep-heartbeat"]
    assert cron["period"] == 3600


def test_the_heartbeat_filter_matches_the_sweeps_summary_line():
    """The filter's terms, checked against the JSON line tracing-subscriber writes for the
    sweep's summary (fields nested under "fields", Mode in its Debug form)."""
    from warden_infra.alarms import COMPLETE_SWEEP_FILTER

    line = {"level": "INFO", "fields": {"message": "sweep finished", "sweep_id": "s-1", "mode": "Apply", "complete": True, "failures": 0}}
    terms = [t.strip(" ()") for t in COMPLETE_SWEEP_FILTER.strip("{} ").split("&&")]
    for term in terms:
        path, op, value = term.partition(" = ") if " = " in term else (term.removesuffix(" IS TRUE"), "IS", "TRUE")
        node = line
        for key in path.removeprefix("$.").split("."):
            node = node[key]
        assert node is True if op == "IS" else node == json.loads(value), term
