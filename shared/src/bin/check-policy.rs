//! `check-policy [--domain-ids JSON] FILE...`: validates policy files the way the functions do
//! at cold start, and prints a summary of each. Exit status 1 if any is invalid.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Parser;
use warden::policy::Policy;

#[derive(Parser)]
#[command(about = "Validate studio-warden policy files")]
struct Args {
    /// Domain ids the deployment supplies, as WARDEN_DOMAIN_IDS does: {"research":"d-..."}.
    #[arg(long, env = "WARDEN_DOMAIN_IDS", default_value = "{}")]
    domain_ids: String,
    /// The policy files.
    #[arg(required = true)]
    files: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let domain_ids: BTreeMap<String, String> = match serde_json::from_str(&args.domain_ids) {
        Ok(ids) => ids,
        Err(e) => {
            eprintln!("--domain-ids: expected a JSON object of domain name to id: {e}");
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    for file in &args.files {
        let source = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                ok = false;
                continue;
            }
        };
        match Policy::parse(&source, file, &domain_ids) {
            Ok(policy) => {
                println!(
                    "{file}: valid: identity store {}, {} domain(s), {} mapping(s), grace period {}, {}{}",
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
                for m in &policy.mappings {
                    println!(
                        "  {} -> {} (priority {}): role {}, {} security group(s)",
                        m.group,
                        m.domain,
                        m.priority,
                        m.template.execution_role,
                        m.template.security_groups.len()
                    );
                }
            }
            Err(e) => {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
