//! The embedded metric format record, typed after CloudWatch's specification
//! ("Specification: Embedded metric format", CloudWatch User Guide), and its one builder.
//!
//! ```json
//! {"_aws": {"Timestamp": 1764583200000,
//!           "CloudWatchMetrics": [{"Namespace": "StudioWarden",
//!                                  "Dimensions": [["FunctionName"]],
//!                                  "Metrics": [{"Name": "Actions.Create", "Unit": "Count"}]}]},
//!  "FunctionName": "studio-warden-prod-compliance-sweep",
//!  "Actions.Create": 3, "requestId": "...", "trigger": "sweep-..."}
//! ```
//!
//! The root holds the metadata (`_aws`), every dimension's value and every metric's value
//! (the "target members" the directives name), and any other member (ignored by CloudWatch).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::{Catalogue, Emitted, Measurements};

/// At most this many metric definitions in one directive (the specification's limit); more
/// metrics go into further directives of the same record.
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;

/// CloudWatch's units (the `StandardUnit` of the CloudWatch API, which the specification's
/// `Unit` refers to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    Seconds,
    Microseconds,
    Milliseconds,
    Bytes,
    Kilobytes,
    Megabytes,
    Gigabytes,
    Terabytes,
    Bits,
    Kilobits,
    Megabits,
    Gigabits,
    Terabits,
    Percent,
    Count,
    #[serde(rename = "Bytes/Second")]
    BytesPerSecond,
    #[serde(rename = "Kilobytes/Second")]
    KilobytesPerSecond,
    #[serde(rename = "Megabytes/Second")]
    MegabytesPerSecond,
    #[serde(rename = "Gigabytes/Second")]
    GigabytesPerSecond,
    #[serde(rename = "Terabytes/Second")]
    TerabytesPerSecond,
    #[serde(rename = "Bits/Second")]
    BitsPerSecond,
    #[serde(rename = "Kilobits/Second")]
    KilobitsPerSecond,
    #[serde(rename = "Megabits/Second")]
    MegabitsPerSecond,
    #[serde(rename = "Gigabits/Second")]
    GigabitsPerSecond,
    #[serde(rename = "Terabits/Second")]
    TerabitsPerSecond,
    #[serde(rename = "Count/Second")]
    CountPerSecond,
    None,
}

/// A metric definition: the name of a root member holding the value, and its unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricDefinition {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Unit")]
    pub unit: Unit,
}

/// One metric directive: a namespace, the dimension sets (each a list of root member names
/// holding string values), and the metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricDirective {
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "Dimensions")]
    pub dimensions: Vec<Vec<String>>,
    #[serde(rename = "Metrics")]
    pub metrics: Vec<MetricDefinition>,
}

/// The `_aws` metadata object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    /// Milliseconds since the epoch.
    #[serde(rename = "Timestamp")]
    pub timestamp: i64,
    #[serde(rename = "CloudWatchMetrics")]
    pub cloudwatch_metrics: Vec<MetricDirective>,
}

/// The whole record: `_aws` and the root members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmfDocument {
    #[serde(rename = "_aws")]
    pub aws: Metadata,
    #[serde(flatten)]
    pub members: BTreeMap<String, Value>,
}

/// Builds the record of one invocation: the catalogue's metrics that belong in it (its
/// `emitted` rule: always, apply sweeps only, non-zero only), each with its unit and value;
/// one dimension (the catalogue's, valued `function_name`); `context` as extra root members.
/// A measurement the catalogue does not list, or whose value is not a finite number, is left
/// out (and logged): the record only ever holds what the dashboard and alarms know.
pub fn document(
    catalogue: &Catalogue,
    namespace: &str,
    function_name: &str,
    timestamp_ms: i64,
    apply_sweep: bool,
    measured: &Measurements,
    context: &BTreeMap<String, String>,
) -> EmfDocument {
    let known = catalogue.all();
    let mut members: BTreeMap<String, Value> = context
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut definitions = Vec::new();
    for (name, value) in measured {
        let Some((unit, emitted)) = known.get(name) else {
            tracing::warn!(metric = %name, "metric not in shared/metrics.json: left out");
            continue;
        };
        let keep = match emitted {
            Emitted::Always => true,
            Emitted::Sweep => apply_sweep,
            Emitted::Nonzero => value.abs() > 0.0,
        };
        if !keep {
            continue;
        }
        let Some(number) = number(*value) else {
            tracing::warn!(metric = %name, value, "metric value is not a finite number: left out");
            continue;
        };
        members.insert(name.clone(), Value::Number(number));
        definitions.push(MetricDefinition {
            name: name.clone(),
            unit: *unit,
        });
    }
    // The dimension's value, after the context so that no context member can replace it.
    members.insert(
        catalogue.dimension.clone(),
        Value::String(function_name.to_owned()),
    );
    let directives = definitions
        .chunks(MAX_METRICS_PER_DIRECTIVE)
        .map(|chunk| MetricDirective {
            namespace: namespace.to_owned(),
            dimensions: vec![vec![catalogue.dimension.clone()]],
            metrics: chunk.to_vec(),
        })
        .collect();
    EmfDocument {
        aws: Metadata {
            timestamp: timestamp_ms,
            cloudwatch_metrics: directives,
        },
        members,
    }
}

/// Whole numbers as JSON integers (`3`, not `3.0`), others as they are; `None` for NaN and
/// the infinities, which JSON cannot carry.
fn number(v: f64) -> Option<Number> {
    if v.is_finite() && v.trunc() == v && v.abs() < 9.0e15 {
        Some(Number::from(v as i64))
    } else {
        Number::from_f64(v)
    }
}
