//! The embedded metric format's rules, as a validator of any line of text, independent of the
//! builder's types: tests hold every record the functions write to it.
//!
//! Sources: "Specification: Embedded metric format" (CloudWatch User Guide): its MUSTs are
//! marked `spec`; the CloudWatch API reference (`MetricDatum`, `Dimension`, `PutMetricData`'s
//! `Namespace`) for what an extracted metric must satisfy: marked `api`.

use serde_json::{Map, Value};

/// The most a log event may weigh (CloudWatch Logs' event limit, which the specification
/// applies; 256 KB in the specification's older text, the stricter figure is kept).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// spec: at most 100 metric definitions in one directive.
pub const MAX_METRICS: usize = 100;
/// spec: at most 30 dimension keys in one dimension set.
pub const MAX_DIMENSIONS: usize = 30;
/// spec: a metric's value array holds at most 100 values.
pub const MAX_VALUES: usize = 100;

/// The units the specification accepts (CloudWatch's `StandardUnit`).
pub const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Every rule `line` breaks, one sentence each; empty when the line is a valid record.
pub fn violations(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    if line.len() > MAX_EVENT_BYTES {
        out.push(format!(
            "spec: the event is {} bytes, over the {MAX_EVENT_BYTES} limit",
            line.len()
        ));
    }
    // spec: the log event MUST be a valid JSON object with no data before or after it.
    let root = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(root)) => root,
        Ok(_) => {
            out.push("spec: the event is JSON but not an object".into());
            return out;
        }
        Err(e) => {
            out.push(format!("spec: the event is not one JSON object alone: {e}"));
            return out;
        }
    };
    // spec: the root MUST contain `_aws`, an object.
    let Some(aws) = root.get("_aws") else {
        out.push("spec: the root has no _aws member".into());
        return out;
    };
    let Value::Object(aws) = aws else {
        out.push("spec: _aws is not an object".into());
        return out;
    };
    check_members(
        &mut out,
        "_aws",
        aws,
        &["CloudWatchMetrics", "Timestamp", "LogGroupName"],
    );
    // spec: Timestamp MUST be a number: milliseconds since the epoch.
    match aws.get("Timestamp") {
        None => out.push("spec: _aws has no Timestamp".into()),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|t| t >= 0) => {}
        Some(other) => out.push(format!(
            "spec: _aws.Timestamp is not milliseconds since the epoch: {other}"
        )),
    }
    // spec: CloudWatchMetrics MUST be an array of metric directives.
    let directives = match aws.get("CloudWatchMetrics") {
        Some(Value::Array(d)) => d,
        Some(_) => {
            out.push("spec: _aws.CloudWatchMetrics is not an array".into());
            return out;
        }
        None => {
            out.push("spec: _aws has no CloudWatchMetrics".into());
            return out;
        }
    };
    for (i, directive) in directives.iter().enumerate() {
        check_directive(&mut out, &root, i, directive);
    }
    out
}

/// spec: objects the specification defines MUST NOT contain members it does not define.
fn check_members(out: &mut Vec<String>, what: &str, object: &Map<String, Value>, allowed: &[&str]) {
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            out.push(format!(
                "spec: {what} has a member the specification does not define: {key}"
            ));
        }
    }
}

/// api: a name or value CloudWatch accepts: `min..=max` characters, ASCII, not only
/// whitespace, no control characters.
fn check_text(out: &mut Vec<String>, what: &str, text: &str, max: usize) {
    let n = text.chars().count();
    if n == 0 || n > max {
        out.push(format!(
            "api: {what} {text:?} must be 1 to {max} characters, is {n}"
        ));
    }
    if !text.is_ascii() || text.chars().any(|c| c.is_ascii_control()) {
        out.push(format!("api: {what} {text:?} must be printable ASCII"));
    }
    if text.trim().is_empty() {
        out.push(format!(
            "api: {what} {text:?} must have a non-whitespace character"
        ));
    }
}

fn check_directive(out: &mut Vec<String>, root: &Map<String, Value>, i: usize, directive: &Value) {
    let at = format!("CloudWatchMetrics[{i}]");
    let Value::Object(directive) = directive else {
        out.push(format!("spec: {at} is not an object"));
        return;
    };
    check_members(out, &at, directive, &["Namespace", "Dimensions", "Metrics"]);
    // spec: Namespace MUST be a string; api: 1 to 255 characters, not starting with ':'.
    match directive.get("Namespace") {
        Some(Value::String(ns)) => {
            check_text(out, &format!("{at}.Namespace"), ns, 255);
            if ns.starts_with(':') {
                out.push(format!(
                    "api: {at}.Namespace {ns:?} must not start with ':'"
                ));
            }
        }
        Some(_) => out.push(format!("spec: {at}.Namespace is not a string")),
        None => out.push(format!("spec: {at} has no Namespace")),
    }
    // spec: Dimensions MUST be an array of dimension sets; each an array of strings, at most
    // 30, each naming a root member whose value is a string.
    match directive.get("Dimensions") {
        Some(Value::Array(sets)) => {
            for (j, set) in sets.iter().enumerate() {
                let here = format!("{at}.Dimensions[{j}]");
                let Value::Array(keys) = set else {
                    out.push(format!("spec: {here} is not an array"));
                    continue;
                };
                if keys.len() > MAX_DIMENSIONS {
                    out.push(format!(
                        "spec: {here} has {} dimension keys, over {MAX_DIMENSIONS}",
                        keys.len()
                    ));
                }
                for key in keys {
                    let Value::String(key) = key else {
                        out.push(format!(
                            "spec: {here} holds a dimension key that is not a string"
                        ));
                        continue;
                    };
                    check_text(out, "dimension name", key, 255);
                    if key.starts_with(':') {
                        out.push(format!(
                            "api: dimension name {key:?} must not start with ':'"
                        ));
                    }
                    match root.get(key) {
                        None => {
                            out.push(format!("spec: dimension {key:?} has no member at the root"))
                        }
                        Some(Value::String(v)) => check_text(out, "dimension value", v, 1024),
                        Some(_) => out.push(format!(
                            "spec: dimension {key:?}'s root member is not a string"
                        )),
                    }
                }
            }
        }
        Some(_) => out.push(format!("spec: {at}.Dimensions is not an array")),
        None => out.push(format!("spec: {at} has no Dimensions")),
    }
    // spec: Metrics MUST be an array of at most 100 metric definitions.
    let metrics = match directive.get("Metrics") {
        Some(Value::Array(m)) => m,
        Some(_) => {
            out.push(format!("spec: {at}.Metrics is not an array"));
            return;
        }
        None => {
            out.push(format!("spec: {at} has no Metrics"));
            return;
        }
    };
    if metrics.len() > MAX_METRICS {
        out.push(format!(
            "spec: {at}.Metrics has {} definitions, over {MAX_METRICS}",
            metrics.len()
        ));
    }
    for (k, metric) in metrics.iter().enumerate() {
        check_metric(out, root, &format!("{at}.Metrics[{k}]"), metric);
    }
}

fn check_metric(out: &mut Vec<String>, root: &Map<String, Value>, at: &str, metric: &Value) {
    let Value::Object(metric) = metric else {
        out.push(format!("spec: {at} is not an object"));
        return;
    };
    check_members(out, at, metric, &["Name", "Unit", "StorageResolution"]);
    match metric.get("Unit") {
        None => {}
        Some(Value::String(u)) if UNITS.contains(&u.as_str()) => {}
        Some(other) => out.push(format!("spec: {at}.Unit {other} is not a CloudWatch unit")),
    }
    match metric.get("StorageResolution") {
        None => {}
        Some(Value::Number(n)) if matches!(n.as_u64(), Some(1 | 60)) => {}
        Some(other) => out.push(format!(
            "spec: {at}.StorageResolution {other} is not 1 or 60"
        )),
    }
    // spec: Name is REQUIRED, a string naming a root member (the target member) whose value
    // is a number or an array of at most 100 numbers.
    let name = match metric.get("Name") {
        Some(Value::String(name)) => name,
        Some(_) => {
            out.push(format!("spec: {at}.Name is not a string"));
            return;
        }
        None => {
            out.push(format!("spec: {at} has no Name"));
            return;
        }
    };
    check_text(out, "metric name", name, 255);
    match root.get(name) {
        None => out.push(format!("spec: metric {name:?} has no value at the root")),
        Some(Value::Number(_)) => {}
        Some(Value::Array(values)) => {
            if values.len() > MAX_VALUES {
                out.push(format!(
                    "spec: metric {name:?} has {} values, over {MAX_VALUES}",
                    values.len()
                ));
            }
            if !values.iter().all(Value::is_number) {
                out.push(format!(
                    "spec: metric {name:?} has a value that is not a number"
                ));
            }
        }
        Some(other) => out.push(format!(
            "spec: metric {name:?}'s value is not a number or an array of numbers: {other}"
        )),
    }
}
