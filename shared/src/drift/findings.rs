//! Pure: what changed between the findings the ledger holds and the ones just evaluated, and
//! the alerts those changes call for. New findings and resolutions are alerted once; a finding
//! that stays open is alerted again after the baseline's reminder interval; exempt findings
//! are recorded and never alerted.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::json;

use super::model::{AlertMessage, Finding, FindingState, FindingStatus};
use super::rules::{self, Evaluation};
use crate::ids::DomainId;
use crate::model::{Epoch, rfc3339};
use crate::policy::Baseline;

/// Why an alert is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    Opened,
    Reminder,
    Resolved,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Reminder => "reminder",
            Self::Resolved => "resolved",
        }
    }
}

/// A finding state to write, and the alert to queue with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub state: FindingState,
    pub alert: Option<AlertKind>,
}

/// The transitions from `previous` (the ledger's finding states of one domain) given an
/// evaluation. Only states that change are returned; `version` is the next one.
pub fn transitions(
    domain: &DomainId,
    baseline: &Baseline,
    previous: &[FindingState],
    eval: &Evaluation,
    now: Epoch,
) -> Vec<Transition> {
    let reminder = i64::try_from(baseline.reminder.as_secs()).unwrap_or(i64::MAX);
    let before: BTreeMap<String, &FindingState> = previous.iter().map(|s| (s.key(), s)).collect();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for f in &eval.findings {
        let key = f.key();
        if !seen.insert(key.clone()) {
            continue;
        }
        let prev = before.get(&key).copied();
        let exemption = baseline.exemption(&f.rule, &f.resource, now);
        let base = |prev: Option<&FindingState>, status: FindingStatus| FindingState {
            domain: domain.clone(),
            rule: f.rule.clone(),
            resource: f.resource.clone(),
            severity: f.severity,
            status,
            expected: f.expected.clone(),
            actual: f.actual.clone(),
            message: f.message.clone(),
            first_seen: prev.map_or(now, |p| p.first_seen),
            last_seen: now,
            last_alerted: prev.and_then(|p| p.last_alerted),
            resolved_at: None,
            exempt_until: None,
            version: prev.map_or(1, |p| p.version + 1),
        };
        match (prev, exemption) {
            (_, Some(e)) => {
                let state = FindingState {
                    exempt_until: Some(e.until),
                    ..base(prev, FindingStatus::Exempt)
                };
                out.push(Transition { state, alert: None });
            }
            (Some(p), None) if p.status == FindingStatus::Open => {
                let last = p.last_alerted.unwrap_or(p.first_seen);
                let due = now.saturating_sub(last) >= reminder;
                let mut state = base(Some(p), FindingStatus::Open);
                if due {
                    state.last_alerted = Some(now);
                }
                out.push(Transition {
                    state,
                    alert: due.then_some(AlertKind::Reminder),
                });
            }
            // New, re-opened after a resolution, or no longer exempt.
            (p, None) => {
                let state = FindingState {
                    first_seen: now,
                    last_alerted: Some(now),
                    ..base(p, FindingStatus::Open)
                };
                out.push(Transition {
                    state,
                    alert: Some(AlertKind::Opened),
                });
            }
        }
    }
    for p in previous {
        let key = p.key();
        if seen.contains(&key) || p.status == FindingStatus::Resolved {
            continue;
        }
        let switched_off = !baseline.enabled(&p.rule);
        if !switched_off && !eval.covers(&key) {
            continue;
        }
        // A finding of a rule switched off, or an exempt one, closes without an alert.
        let alert =
            (p.status == FindingStatus::Open && !switched_off).then_some(AlertKind::Resolved);
        out.push(Transition {
            state: FindingState {
                status: FindingStatus::Resolved,
                resolved_at: Some(now),
                last_alerted: if alert.is_some() {
                    Some(now)
                } else {
                    p.last_alerted
                },
                exempt_until: None,
                version: p.version + 1,
                ..p.clone()
            },
            alert,
        });
    }
    out
}

/// SNS subjects must be ASCII, without control characters, under 100 characters.
pub const SUBJECT_MAX: usize = 99;

fn clean_subject(s: &str) -> String {
    let ascii: String = s
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if ascii.len() <= SUBJECT_MAX {
        ascii
    } else {
        format!("{}...", &ascii[..SUBJECT_MAX - 3])
    }
}

/// The alert for a finding state: subject under 100 characters, a readable body followed by
/// a blank line and a JSON document, and message attributes for subscription filter policies.
pub fn alert_message(
    state: &FindingState,
    kind: AlertKind,
    domain_name: &str,
    remediation: Option<&str>,
) -> AlertMessage {
    let sev = state.severity.as_str().to_ascii_uppercase();
    // The safety net's findings are about the policy's groups and held deletions, not drift.
    let (what, found) = if crate::catalogue::is_safety_rule(&state.rule) {
        ("safety", "needs an operator")
    } else {
        ("drift", "found drift")
    };
    let verb = match kind {
        AlertKind::Opened => what,
        AlertKind::Reminder => "still open",
        AlertKind::Resolved => "resolved",
    };
    let subject = clean_subject(&format!(
        "[{sev}] {verb}: {} {} ({domain_name})",
        state.rule, state.resource
    ));
    let why = rules::info(&state.rule).map_or("", |r| r.why);
    let mut text = String::new();
    let headline = match kind {
        AlertKind::Opened => format!(
            "studio-warden {found} in SageMaker domain {domain_name} ({}).",
            state.domain
        ),
        AlertKind::Reminder => format!(
            "Reminder: this {what} finding in SageMaker domain {domain_name} ({}) is still open.",
            state.domain
        ),
        AlertKind::Resolved => format!(
            "Resolved: this {what} finding in SageMaker domain {domain_name} ({}) is gone.",
            state.domain
        ),
    };
    text.push_str(&headline);
    text.push_str("\n\n");
    text.push_str(&state.message);
    text.push_str("\n\n");
    let mut line = |k: &str, v: &str| text.push_str(&format!("{k:<11} {v}\n"));
    line("Rule:", &format!("{} ({})", state.rule, state.severity));
    line("Resource:", &state.resource);
    line("Expected:", &state.expected);
    line("Actual:", &state.actual);
    line("First seen:", &rfc3339(state.first_seen));
    match state.resolved_at {
        Some(at) => line("Resolved:", &rfc3339(at)),
        None => line("Last seen:", &rfc3339(state.last_seen)),
    }
    if let Some(r) = remediation {
        line("Remediated:", r);
    }
    if !why.is_empty() {
        line("Why:", why);
    }
    let doc = json!({
        "source": "studio-warden",
        "event": kind.as_str(),
        "finding": {
            "id": state.key(),
            "rule": state.rule,
            "resource": state.resource,
            "domain": state.domain,
            "domain_name": domain_name,
            "severity": state.severity,
            "status": state.status,
            "expected": state.expected,
            "actual": state.actual,
            "message": state.message,
            "first_seen": rfc3339(state.first_seen),
            "last_seen": rfc3339(state.last_seen),
            "resolved_at": state.resolved_at.map(rfc3339),
            "remediation": remediation,
        }
    });
    let body = format!("{}\n\n{doc}", text.trim_end());
    let attributes = BTreeMap::from([
        ("severity".to_owned(), state.severity.as_str().to_owned()),
        ("domain".to_owned(), state.domain.to_string()),
        ("rule".to_owned(), state.rule.clone()),
        ("event".to_owned(), kind.as_str().to_owned()),
    ]);
    AlertMessage {
        subject,
        body,
        attributes,
    }
}

/// Findings as their keys, for reports.
pub fn keys(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(Finding::key).collect()
}
