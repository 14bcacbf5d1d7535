//! `check-policy [--domain-ids JSON] FILE...`: validates policy files the way the functions do
//! at cold start, and prints a summary of each. Needs no AWS.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;

use super::{Exit, Output};
use crate::policy::Policy;

/// A valid policy's summary: one line, then one line per mapping.
pub fn summary(file: &str, policy: &Policy) -> String {
    let mut out = format!(
        "{file}: valid: identity store {}, {} domain(s), {} mapping(s), grace period {}, {}{}\n",
        policy.identity_store.id,
        policy.domains.len(),
        policy.mappings.len(),
        humantime::format_duration(policy.offboarding.grace_period),
        match policy.offboarding.data_retention() {
            Some(keep) => format!(
                "data deleted {} after the suspension",
                humantime::format_duration(keep)
            ),
            None => "data kept (remove = \"apps\")".to_owned(),
        },
        if policy.offboarding.dry_run {
            ", DRY RUN"
        } else {
            ""
        }
    );
    for d in &policy.domains {
        if let Some(place) = &d.place {
            let _ = writeln!(
                out,
                "  domain {} ({}): account {}, region {}, through {}",
                d.name,
                d.id.as_str(),
                place.account,
                place.region,
                d.role
                    .as_deref()
                    .unwrap_or("the function's own credentials")
            );
        } else if let Some(role) = &d.role {
            let _ = writeln!(
                out,
                "  domain {} ({}): the function's own account and region, through {role}",
                d.name,
                d.id.as_str()
            );
        }
    }
    for m in &policy.mappings {
        let _ = writeln!(
            out,
            "  {} -> {} (priority {}): role {}, {} security group(s)",
            m.group,
            m.domain,
            m.priority,
            m.template.execution_role,
            m.template.security_groups.len()
        );
    }
    out
}

/// Checks each file. Exit 1 if any is invalid or unreadable, 2 if `domain_ids` is not a JSON
/// object of domain name to id.
pub fn run(domain_ids: &str, files: &[String], json: bool, out: &mut Output) -> Exit {
    let domain_ids: BTreeMap<String, String> = match serde_json::from_str(domain_ids) {
        Ok(ids) => ids,
        Err(e) => {
            out.err(format!(
                "--domain-ids: expected a JSON object of domain name to id: {e}\n"
            ));
            return Exit::Usage;
        }
    };
    // The function's own account and region, as the function would see them (WARDEN_ACCOUNT_ID,
    // AWS_REGION): a policy placing domains elsewhere is judged against them.
    let home = match crate::policy::Home::from_lookup(&|k| std::env::var(k).ok()) {
        Ok(home) => home,
        Err(e) => {
            out.err(format!("{e}\n"));
            return Exit::Usage;
        }
    };
    let mut ok = true;
    let mut results = Vec::new();
    for file in files {
        let source = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                out.err(format!("{file}: cannot read: {e}\n"));
                results.push(
                    json!({"file": file, "valid": false, "error": format!("cannot read: {e}")}),
                );
                ok = false;
                continue;
            }
        };
        match Policy::parse_at(&source, file, &domain_ids, &home) {
            Ok(policy) => {
                if !json {
                    out.out(summary(file, &policy));
                }
                results.push(json!({
                    "file": file,
                    "valid": true,
                    "identity_store": policy.identity_store.id.to_string(),
                    "domains": policy.domains.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
                    "mappings": policy.mappings.len(),
                }));
            }
            Err(e) => {
                out.err(format!("{e}\n"));
                results.push(json!({"file": file, "valid": false, "error": e.to_string()}));
                ok = false;
            }
        }
    }
    if json {
        out.json(&results);
    }
    if ok { Exit::Ok } else { Exit::Problems }
}
