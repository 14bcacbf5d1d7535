"""The functions' metrics: the dashboard and the alarms refer only to metrics the functions
emit (shared/metrics.json, the list the Rust code is tested against too), with the namespace
and the dimension the functions write, and every alarm goes to the alert topic."""

import json
from pathlib import Path

import pytest

from warden_infra.metrics import CATALOGUE, CATALOGUE_PATH

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
RUST_METRICS = Path(__file__).resolve().parents[2] / "shared" / "src" / "metrics" / "mod.rs"
OWN_ALARMS = ("membership-sync-failures", "compliance-sweep-failures", "sweep-incomplete", "hold-waiting", "critical-finding-open")


def alarms(stack):
    return {a.name: a.inputs for a in stack.of_type(ALARM)}


def own_alarms(stack):
    return {name: a for name, a in alarms(stack).items() if a.get("namespace") == namespace(stack)}


def namespace(stack):
    return stack.named("compliance-sweep").inputs["environment"]["variables"]["WARDEN_METRICS_NAMESPACE"]


def fn_name(stack, name):
    return stack.named(name).outputs["name"]


def dashboard(stack):
    return json.loads(stack.one(DASHBOARD).inputs["dashboardBody"])


def graphed(body):
    """(namespace, metric, dimension, value) of every line of every graph."""
    return [tuple(line) for w in body["widgets"] if w["type"] == "metric" for line in w["properties"]["metrics"]]


def test_the_catalogue_is_the_one_the_rust_code_reads():
    assert CATALOGUE_PATH.name == "metrics.json" and CATALOGUE_PATH.parent.name == "shared"
    assert 'include_str!("../../metrics.json")' in RUST_METRICS.read_text()
    assert '"WARDEN_METRICS_NAMESPACE"' in RUST_METRICS.read_text()
    assert len(CATALOGUE.metrics) <= 100, "one EMF directive holds at most 100 metrics"
    with pytest.raises(KeyError):
        CATALOGUE.name("ActionsCreated")


@pytest.mark.parametrize("name", ["membership-sync", "compliance-sweep"])
def test_both_functions_write_to_the_namespace_the_stack_reads(stack, name):
    env = stack.named(name).inputs["environment"]["variables"]
    assert env["WARDEN_METRICS_NAMESPACE"] == CATALOGUE.namespace
    # The dimension's value is Lambda's AWS_LAMBDA_FUNCTION_NAME: the function's name.
    assert stack.named(name).inputs["name"] == fn_name(stack, name)


def test_the_dashboard_graphs_every_metric_the_functions_emit_and_nothing_else(stack):
    body = dashboard(stack)
    lines = graphed(body)
    assert lines, "the dashboard has graphs"
    names = {metric for _, metric, _, _ in lines}
    assert names <= set(CATALOGUE.metrics), f"not emitted by the functions: {names - set(CATALOGUE.metrics)}"
    assert names == set(CATALOGUE.metrics), f"emitted but not graphed: {set(CATALOGUE.metrics) - names}"
    functions = {fn_name(stack, "membership-sync"), fn_name(stack, "compliance-sweep")}
    for ns, metric, dimension, value in lines:
        assert ns == CATALOGUE.namespace
        assert dimension == CATALOGUE.dimension
        assert value in functions
        if CATALOGUE.metrics[metric].emitted == "sweep":
            assert value == fn_name(stack, "compliance-sweep"), f"{metric} is only in sweep records"
    for w in body["widgets"]:
        if w["type"] == "metric":
            assert w["properties"]["region"] == "us-east-1"
            assert len(w["properties"]["metrics"]) <= 500, "CloudWatch's limit per graph"


def test_the_dashboard_shows_the_state_of_every_metric_alarm(stack):
    body = dashboard(stack)
    (widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    arns = {a.outputs["arn"] for a in stack.of_type(ALARM) if a.name in OWN_ALARMS}
    assert set(widget["properties"]["alarms"]) == arns and len(arns) == len(OWN_ALARMS)


def test_every_metric_alarm_watches_an_emitted_metric_of_the_right_function_and_notifies_the_topic(stack):
    found = own_alarms(stack)
    assert set(found) == set(OWN_ALARMS)
    topic = stack.outputs["alertTopicArn"]
    for name, alarm in found.items():
        metric = CATALOGUE.metrics[alarm["metricName"]]
        (value,) = alarm["dimensions"].values()
        assert list(alarm["dimensions"]) == [CATALOGUE.dimension]
        if metric.emitted == "sweep":
            assert value == fn_name(stack, "compliance-sweep"), name
        assert alarm["alarmActions"] == [topic] and alarm["okActions"] == [topic], name
        assert alarm["comparisonOperator"] == "GreaterThanThreshold" and alarm["threshold"] == 0, name


def test_the_sweep_incomplete_alarm_fires_after_n_incomplete_sweeps_in_a_row(stack, synth):
    alarm = alarms(stack)["sweep-incomplete"]
    assert alarm["metricName"] == "SweepIncomplete"
    assert alarm["dimensions"] == {"FunctionName": fn_name(stack, "compliance-sweep")}
    assert alarm["statistic"] == "Minimum", "one complete sweep in an interval breaks the streak"
    assert alarm["period"] == 15 * 60, "one sweep interval of rate(15 minutes)"
    assert alarm["evaluationPeriods"] == alarm["datapointsToAlarm"] == 3
    hourly = alarms(synth(sweepSchedule="rate(1 hour)", sweepIncompleteRuns=5))["sweep-incomplete"]
    assert (hourly["period"], hourly["evaluationPeriods"], hourly["datapointsToAlarm"]) == (3600, 5, 5)
    with pytest.raises(Exception, match="sweepIncompleteRuns"):
        synth(sweepSchedule="rate(2 hours)", sweepIncompleteRuns=13)


def test_a_waiting_hold_and_an_open_critical_finding_alarm_until_they_are_dealt_with(stack):
    for name, metric in (("hold-waiting", "HoldsPending"), ("critical-finding-open", "OpenFindings.critical")):
        alarm = alarms(stack)[name]
        assert alarm["metricName"] == metric
        assert alarm["dimensions"] == {"FunctionName": fn_name(stack, "compliance-sweep")}
        assert alarm["statistic"] == "Maximum"
        assert alarm["evaluationPeriods"] == 1
        assert alarm["period"] == 15 * 60
        # The sweep restates these gauges each run; between runs the state stays.
        assert alarm["treatMissingData"] == "ignore"


@pytest.mark.parametrize("name", ["membership-sync", "compliance-sweep"])
def test_failures_alarm_when_above_zero_for_an_hour(stack, synth, name):
    alarm = alarms(stack)[f"{name}-failures"]
    assert alarm["metricName"] == "Failures"
    assert alarm["dimensions"] == {"FunctionName": fn_name(stack, name)}
    assert alarm["statistic"] == "Sum"
    assert alarm["period"] * alarm["evaluationPeriods"] == 3600, "an hour"
    assert alarm["datapointsToAlarm"] == alarm["evaluationPeriods"], "every window of it"
    assert alarm["treatMissingData"] == "notBreaching"
    hourly = alarms(synth(sweepSchedule="rate(1 hour)"))[f"{name}-failures"]
    if name == "compliance-sweep":
        assert (hourly["period"], hourly["evaluationPeriods"]) == (3600, 1), "one sweep per window"
    else:
        assert (hourly["period"], hourly["evaluationPeriods"]) == (900, 4)


def test_the_namespace_is_configurable_and_follows_everywhere(synth):
    stack = synth(metricsNamespace="Platform/StudioWarden")
    assert namespace(stack) == "Platform/StudioWarden"
    assert stack.named("membership-sync").inputs["environment"]["variables"]["WARDEN_METRICS_NAMESPACE"] == "Platform/StudioWarden"
    assert set(own_alarms(stack)) == set(OWN_ALARMS)
    assert {ns for ns, _, _, _ in graphed(dashboard(stack))} == {"Platform/StudioWarden"}
    with pytest.raises(Exception, match="metricsNamespace"):
        synth(metricsNamespace=":bad")


def test_a_one_shot_schedule_has_no_sweep_streak_to_watch(synth):
    found = alarms(synth(sweepSchedule="at(2027-01-01T00:00:00)"))
    assert "sweep-incomplete" not in found
    assert {"hold-waiting", "critical-finding-open", "compliance-sweep-failures"} <= set(found)


@pytest.mark.parametrize("level", ["WARN", "ERROR"])
def test_a_log_level_that_would_drop_the_metrics_records_is_refused(synth, level):
    """Lambda's application log level filter counts a JSON line without a "level" key as INFO
    (Lambda developer guide, log-level filtering): above INFO the EMF records would be dropped."""
    with pytest.raises(Exception, match="metrics records"):
        synth(logLevel=level)
