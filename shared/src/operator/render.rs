//! Tables and sentences for people: what the operator CLI prints without `--json`. Pure
//! functions of the gathered data, so that each is tested on its own.

use std::fmt::Write as _;

use crate::model::{Epoch, rfc3339};
use crate::planner::Action;
use crate::ports::{HistoryEntry, SweepSummary};
use crate::safety::HoldStatus;
use crate::service::InvocationReport;

use super::explain::{DirectoryStatus, Explanation, FindingView, HoldView};

/// Columns separated by two spaces, each as wide as its widest cell; the last column is not
/// padded (it holds the long text: reasons, messages).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = line(headers, &widths);
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        out.push_str(&line(&cells, &widths));
    }
    out
}

fn line(cells: &[&str], widths: &[usize]) -> String {
    let last = cells.len().saturating_sub(1);
    let mut out = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i == last {
            out.push_str(cell);
        } else {
            let pad = widths.get(i).copied().unwrap_or(0);
            let _ = write!(out, "{cell:<pad$}  ");
        }
    }
    let mut out = out.trim_end().to_owned();
    out.push('\n');
    out
}

fn time(t: Epoch) -> String {
    rfc3339(t)
}

/// History rows: when, what, which event or sweep, then what became of it and why (the
/// last, free column: outcomes and reasons are the long texts).
fn history_rows(rows: &[HistoryEntry], with_domain: bool) -> String {
    let mut headers = vec!["AT"];
    if with_domain {
        headers.push("DOMAIN");
    }
    headers.extend(["ACTION", "TRIGGER", "OUTCOME — REASON"]);
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|h| {
            let mut row = vec![time(h.at)];
            if with_domain {
                row.push(h.domain.to_string());
            }
            row.extend([
                h.action.clone(),
                h.trigger.clone(),
                format!("{} — {}", h.outcome, h.reason),
            ]);
            row
        })
        .collect();
    table(&headers, &rows)
}

/// `explain USER`.
pub fn explanation(e: &Explanation) -> String {
    let mut out = String::new();
    let directory = match e.directory {
        DirectoryStatus::Enabled => "in the Identity Store, enabled",
        DirectoryStatus::Disabled => "in the Identity Store, DISABLED (entitled to nothing)",
        DirectoryStatus::Deleted => "NOT in the Identity Store (deleted); known from the ledger",
    };
    let name = if e.user_name.is_empty() {
        "(name unknown)"
    } else {
        e.user_name.as_str()
    };
    let _ = writeln!(out, "User {name} ({}): {directory}", e.user);
    for d in &e.domains {
        let _ = writeln!(out, "\nDomain {} ({})", d.domain, d.domain_id);
        let _ = writeln!(out, "  why:      {}", d.verdict);
        if d.mappings.is_empty() {
            let _ = writeln!(out, "  mappings: none of the user's groups is mapped here");
        }
        for m in &d.mappings {
            let how = if m.wins {
                "wins".to_owned()
            } else {
                match d.mappings.iter().find(|w| w.wins) {
                    Some(w) => format!(
                        "lost to mapping {} (priority {} > {})",
                        w.mapping, w.priority, m.priority
                    ),
                    None => "does not apply".to_owned(),
                }
            };
            // A mapping by group id names it already; one by display name gets the id.
            let group = if m.group.ends_with(m.group_id.as_str()) {
                m.group.clone()
            } else {
                format!("{} ({})", m.group, m.group_id)
            };
            let _ = writeln!(
                out,
                "  mapping:  {group}, mapping {}, priority {}: {how}",
                m.mapping, m.priority
            );
        }
        for doubt in &d.doubts {
            let _ = writeln!(out, "  doubt:    {doubt}");
        }
        match &d.record {
            None => {
                let _ = writeln!(out, "  ledger:   no record");
            }
            Some(r) => {
                let group = r.group.as_ref().map_or("-".to_owned(), |g| g.to_string());
                let _ = writeln!(
                    out,
                    "  ledger:   {} (profile {}, group {group}, version {}, updated {})",
                    r.phase.name(),
                    r.profile,
                    r.version,
                    time(r.updated_at)
                );
            }
        }
        match (&d.profile, &d.record) {
            (Some(p), _) => {
                let _ = writeln!(
                    out,
                    "  profile:  {} {}: role {}, security groups {}{}",
                    p.name,
                    p.status,
                    p.execution_role.as_deref().unwrap_or("-"),
                    if p.security_groups.is_empty() {
                        "-".to_owned()
                    } else {
                        p.security_groups.join(", ")
                    },
                    p.suspended
                        .as_ref()
                        .map_or(String::new(), |t| format!(", suspended since {t}"))
                );
            }
            (None, Some(r)) => {
                let _ = writeln!(out, "  profile:  {} is not in SageMaker", r.profile);
            }
            (None, None) => {}
        }
        for f in &d.findings {
            let _ = writeln!(
                out,
                "  finding:  [{}] {} {} ({}): {}",
                f.severity,
                f.rule,
                f.resource,
                f.status.as_str(),
                f.message
            );
        }
    }
    if !e.holds.is_empty() {
        let _ = writeln!(out, "\nHolds naming the user");
        for h in &e.holds {
            let _ = writeln!(
                out,
                "  {} {}: {}{}",
                h.id,
                status(h.status),
                h.reason,
                h.decided_by
                    .as_ref()
                    .map_or(String::new(), |by| format!(" (decided by {by})"))
            );
        }
    }
    if e.history.is_empty() {
        let _ = writeln!(out, "\nHistory: none");
    } else {
        let _ = writeln!(
            out,
            "\nHistory (the last {} of {} rows; `studio-warden history` shows all)",
            e.history.len(),
            e.history_total
        );
        out.push_str(&indent(&history_rows(&e.history, e.domains.len() > 1)));
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// `history USER`.
pub fn history(user_name: &str, rows: &[HistoryEntry]) -> String {
    if rows.is_empty() {
        return format!("{user_name}: no history in the ledger\n");
    }
    history_rows(rows, true)
}

fn status(s: HoldStatus) -> &'static str {
    match s {
        HoldStatus::Pending => "pending",
        HoldStatus::Approved => "approved",
        HoldStatus::Discarded => "discarded",
        HoldStatus::Expired => "expired",
    }
}

/// `holds`: one row per hold, then the users of each pending hold.
pub fn holds(holds: &[HoldView]) -> String {
    if holds.is_empty() {
        return "no holds: no deletion has ever waited for an operator\n".to_owned();
    }
    let rows: Vec<Vec<String>> = holds
        .iter()
        .map(|v| {
            let h = &v.hold;
            vec![
                h.id.clone(),
                status(h.status).to_owned(),
                h.users.len().to_string(),
                time(h.created_at),
                h.found_by.clone(),
                h.decided_by.clone().unwrap_or_else(|| "-".to_owned()),
                h.reason.clone(),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "HOLD",
            "STATUS",
            "USERS",
            "CREATED",
            "FOUND BY",
            "DECIDED BY",
            "REASON",
        ],
        &rows,
    );
    for v in holds
        .iter()
        .filter(|v| v.hold.status == HoldStatus::Pending)
    {
        let _ = writeln!(
            out,
            "\nPending hold {} holds back (approve: studio-warden approve {}):",
            v.hold.id, v.hold.id
        );
        let rows: Vec<Vec<String>> = v
            .hold
            .users
            .iter()
            .map(|u| {
                vec![
                    u.domain.to_string(),
                    u.action.clone(),
                    v.user_names
                        .get(&u.user)
                        .cloned()
                        .unwrap_or_else(|| "-".to_owned()),
                    u.user.to_string(),
                ]
            })
            .collect();
        out.push_str(&indent(&table(
            &["DOMAIN", "ACTION", "USER", "USER ID"],
            &rows,
        )));
    }
    out
}

/// `findings`.
pub fn findings(findings: &[FindingView]) -> String {
    if findings.is_empty() {
        return "no findings\n".to_owned();
    }
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            let s = &f.state;
            vec![
                s.severity.to_string(),
                s.status.as_str().to_owned(),
                f.domain_name.clone(),
                s.rule.clone(),
                s.resource.clone(),
                time(s.first_seen),
                s.message.clone(),
            ]
        })
        .collect();
    table(
        &[
            "SEVERITY", "STATUS", "DOMAIN", "RULE", "RESOURCE", "SINCE", "MESSAGE",
        ],
        &rows,
    )
}

/// `sweeps`, the latest first.
pub fn sweeps(sweeps: &[SweepSummary]) -> String {
    if sweeps.is_empty() {
        return "no sweep recorded: is compliance-sweep scheduled?\n".to_owned();
    }
    let rows: Vec<Vec<String>> = sweeps
        .iter()
        .map(|s| {
            let actions = if s.actions.is_empty() {
                "-".to_owned()
            } else {
                s.actions
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            vec![
                time(s.started_at),
                format!("{}s", s.finished_at.saturating_sub(s.started_at)),
                match (&s.fanned_out, s.complete) {
                    (_, true) => "yes".to_owned(),
                    (Some(p), false) => format!("NO ({}/{} domains)", p.complete, p.domains),
                    (None, false) => "NO".to_owned(),
                },
                s.failures.to_string(),
                s.unmanaged.to_string(),
                s.sweep_id.clone(),
                actions,
            ]
        })
        .collect();
    table(
        &[
            "STARTED",
            "TOOK",
            "COMPLETE",
            "FAILURES",
            "UNMANAGED",
            "SWEEP",
            "ACTIONS",
        ],
        &rows,
    )
}

fn reason_of(a: &Action) -> String {
    match a {
        Action::Create { reason, .. }
        | Action::Update { reason, .. }
        | Action::Record { reason, .. }
        | Action::StartGrace { reason, .. }
        | Action::Restore { reason, .. }
        | Action::Suspend { reason, .. }
        | Action::Offboard { reason, .. }
        | Action::Forget { reason, .. } => reason.clone(),
        Action::ReportUnmanaged { status, .. } => {
            format!("not studio-warden's (not in the ledger), {status}: left alone")
        }
    }
}

fn profile_of(a: &Action) -> String {
    match a {
        Action::Create { profile, .. }
        | Action::Update { profile, .. }
        | Action::Record { profile, .. }
        | Action::StartGrace { profile, .. }
        | Action::Restore { profile, .. }
        | Action::Suspend { profile, .. }
        | Action::Offboard { profile, .. }
        | Action::Forget { profile, .. }
        | Action::ReportUnmanaged { profile, .. } => profile.to_string(),
    }
}

/// `plan`: what a sweep would do now.
pub fn plan(report: &InvocationReport) -> String {
    let r = &report.reconcile;
    let mut out = String::new();
    if r.actions.is_empty() {
        out.push_str("nothing to do: every profile is as the policy and the Identity Store say\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .actions
            .iter()
            .map(|a| {
                vec![
                    a.domain.to_string(),
                    a.action.kind().to_owned(),
                    profile_of(&a.action),
                    reason_of(&a.action),
                ]
            })
            .collect();
        out.push_str(&table(&["DOMAIN", "ACTION", "PROFILE", "REASON"], &rows));
    }
    for h in &r.held {
        let _ = writeln!(
            out,
            "held: {} of {} in {}: {}",
            h.action, h.user, h.domain, h.reason
        );
    }
    if let Some(h) = &r.hold {
        let _ = writeln!(
            out,
            "hold {}: {} user(s) wait for an operator: {}",
            h.id.as_deref().unwrap_or("(not recorded yet)"),
            h.users.len(),
            h.reason
        );
    }
    for s in &r.safety {
        let _ = writeln!(out, "safety finding open: {s}");
    }
    if let Some(d) = &report.drift
        && !d.skipped
    {
        let _ = writeln!(
            out,
            "drift: {} finding(s) in {} domain(s){}",
            d.findings.len(),
            d.domains.len(),
            if d.findings.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    d.findings
                        .iter()
                        .map(|f| format!("{}#{} ({})", f.rule, f.resource, f.severity))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        for f in &d.failures {
            let _ = writeln!(out, "drift failure: {f}");
        }
    }
    for f in &r.failures {
        let _ = writeln!(out, "failure: {f}");
    }
    if !r.complete {
        out.push_str("incomplete: the plan stopped before covering every user\n");
    }
    out
}
