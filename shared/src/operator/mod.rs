//! The operator CLI, `studio-warden`: "why does Jane have no Studio?", "why was Bob's profile
//! deleted?", "is the sweep healthy?", answered from the same library, adapters and settings
//! as the functions, against AWS or the emulator through the standard environment.
//!
//! It reads, except `approve` and `discard`, which record an operator's decision on a hold
//! through [`Engine::decide`](crate::engine::Engine::decide), as compliance-sweep's
//! `{"mode":"approve"}` does; the next sweep acts on it. It never changes SageMaker.
//!
//! - this module: the command line (clap), the deployment it reads, exit codes and errors;
//! - [`explain`]: what it reads, over the ports;
//! - [`render`]: tables for people (pure);
//! - [`check`]: `check-policy`, which needs no AWS.

pub mod check;
pub mod explain;
pub mod render;
#[cfg(test)]
mod tests;

use std::ffi::OsString;

use aws_types::SdkConfig;
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::drift::model::FindingStatus;
use crate::error::WardenError;
use crate::model::Epoch;
use crate::ports::Ledger;
use crate::runtime::{AwsEngine, AwsGuard, Settings, build_engine, build_guard, load_sdk_config};

/// What a command ended with; the process's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; nothing needs an operator.
    Ok = 0,
    /// Done, and something needs attention or was not found.
    Problems = 1,
    /// The command line is wrong.
    Usage = 2,
    /// Configuration or AWS error: nothing could be answered.
    Failed = 3,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

const EXIT_CODES: &str = "\
Exit codes:
  0  done; nothing needs an operator
  1  done, and something needs attention or was not found: an unknown user or hold, a
     pending hold, an open finding listed, a last sweep incomplete or failed (or none),
     a plan that holds deletions or fails, an invalid policy file
  2  usage: the command line is wrong
  3  configuration or AWS error (settings, policy, credentials, permissions, network)

Environment: the functions' own settings, so that the CLI reads the same deployment:
  WARDEN_POLICY_FILE or WARDEN_POLICY  the policy (or --policy; default ./policy.toml)
  WARDEN_DOMAIN_IDS                    domain ids the deployment supplies (JSON)
  WARDEN_TABLE                         the ledger table (or --table)
  AWS_PROFILE, AWS_REGION, ...         credentials and region, as for the AWS CLI
  AWS_ENDPOINT_URL                     e.g. http://127.0.0.1:5055 for `make emulator`
Nothing here changes SageMaker; approve and discard record a decision for the next sweep.";

/// The operator's command line.
#[derive(Debug, Parser)]
#[command(
    name = "studio-warden",
    version,
    about = "studio-warden's operator tool: explain a user, read the ledger, decide holds",
    long_about = "studio-warden's operator tool. It reads the deployment the functions run \
        (the policy, the ledger table, the Identity Store, SageMaker) with their own settings \
        and adapters: why a user has or has not a profile, their history, holds, findings, \
        recent sweeps and the dry-run plan; it records an operator's decision on a hold.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// The policy file [default: WARDEN_POLICY_FILE, else the inline WARDEN_POLICY, else ./policy.toml].
    #[arg(long, global = true, value_name = "FILE")]
    pub policy: Option<String>,
    /// The ledger table [default: WARDEN_TABLE].
    #[arg(long, global = true, value_name = "NAME")]
    pub table: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// A finding's status, for `findings --status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Open,
    Resolved,
    Exempt,
}

impl From<StatusArg> for FindingStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Open => FindingStatus::Open,
            StatusArg::Resolved => FindingStatus::Resolved,
            StatusArg::Exempt => FindingStatus::Exempt,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Why a user has, has not, or is losing a profile
    ///
    /// Per domain: the mappings that entitle the user (and those that lost to priority), the
    /// ledger's phase, the profile as SageMaker has it, holds and findings that concern the
    /// user, and the last history rows with their triggers. Exit 1 if no such user is known.
    Explain {
        /// The Identity Center user name (e.g. jane.doe@example.com) or user id.
        user: String,
        /// How many of the latest history rows to show.
        #[arg(long, default_value_t = 10, value_name = "N")]
        rows: usize,
    },
    /// A user's whole history in the ledger, each row with its trigger
    ///
    /// Oldest first, each row with the event or sweep that led to it. Exit 1 if no such user
    /// is known.
    History {
        /// The Identity Center user name or user id.
        user: String,
    },
    /// Drift and safety findings
    ///
    /// Highest severity first. Exit 1 if an open one is listed.
    Findings {
        /// Only this domain (the policy's name for it, or its id).
        #[arg(long, value_name = "DOMAIN")]
        domain: Option<String>,
        /// Only findings of this status.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
    },
    /// Holds: offboardings waiting for an operator
    ///
    /// The latest first; a pending hold's users by name. Exit 1 if one is pending.
    Holds,
    /// Approve a pending hold
    ///
    /// Recorded as compliance-sweep records {"mode":"approve"}: its users' grace periods and
    /// offboardings start at the next sweep, each history row naming the hold. Exit 1 if the
    /// hold is unknown or decided otherwise.
    Approve {
        /// The hold's id (see `studio-warden holds`).
        hold: String,
        /// Who decides, as the ledger records it [default: $USER].
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Discard a pending hold once its cause is fixed
    ///
    /// A sweep that still finds too many leavers records a new one. Exit 1 if the hold is
    /// unknown or decided otherwise.
    Discard {
        /// The hold's id (see `studio-warden holds`).
        hold: String,
        /// Who decides, as the ledger records it [default: $USER].
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// What a sweep would do now (the dry-run plan)
    ///
    /// Exactly what compliance-sweep answers to {"mode":"plan"}, computed here; writes
    /// nothing. Exit 1 if it holds deletions or fails.
    Plan,
    /// Recent sweeps: complete or not, actions, failures
    ///
    /// The latest first. Exit 1 if the latest is incomplete or failed, or there is none.
    Sweeps {
        /// How many.
        #[arg(long, default_value_t = 10, value_name = "N")]
        limit: usize,
    },
    /// Validate policy files as the functions do at cold start
    ///
    /// Needs no AWS. Exit 1 if one is invalid.
    CheckPolicy {
        /// Domain ids the deployment supplies, as WARDEN_DOMAIN_IDS does: {"research":"d-..."}
        /// [default: WARDEN_DOMAIN_IDS, else {}].
        #[arg(long, value_name = "JSON")]
        domain_ids: Option<String>,
        /// The policy files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
}

/// What a command prints, for the caller to write out: standard output and standard error.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn out(&mut self, text: impl AsRef<str>) {
        self.stdout.push_str(text.as_ref());
    }

    pub fn err(&mut self, text: impl AsRef<str>) {
        self.stderr.push_str(text.as_ref());
    }

    /// Pretty JSON on standard output.
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => {
                self.stdout.push_str(&text);
                self.stdout.push('\n');
            }
            Err(e) => self.err(format!("error: cannot write JSON: {e}\n")),
        }
    }
}

/// Where the CLI finds its settings and its AWS configuration.
pub struct Environment<'a> {
    /// The environment variables (`std::env::var`, or a map in tests).
    pub var: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// The AWS configuration; `None` loads it from the standard environment (credentials,
    /// region, `AWS_ENDPOINT_URL`) with the functions' retry configuration.
    pub sdk: Option<SdkConfig>,
    /// The clock (epoch seconds).
    pub now: Epoch,
}

/// The deployment the functions run: the policy, and the engine and drift checks over the same
/// clients, built as the functions build them.
struct Deployment {
    engine: AwsEngine,
    guard: AwsGuard,
}

async fn deployment(cli: &Cli, env: &Environment<'_>) -> Result<Deployment, WardenError> {
    let settings = Settings::from_lookup(|key| match key {
        "WARDEN_POLICY_FILE" if cli.policy.is_some() => cli.policy.clone(),
        "WARDEN_POLICY" if cli.policy.is_some() => None,
        "WARDEN_TABLE" if cli.table.is_some() => cli.table.clone(),
        // Not inside Lambda: a relative policy path is relative to the working directory.
        "LAMBDA_TASK_ROOT" => None,
        other => (env.var)(other),
    })?;
    let sdk = match &env.sdk {
        Some(sdk) => sdk.clone(),
        None => load_sdk_config().await,
    };
    let engine = build_engine(&settings, &sdk);
    let guard = build_guard(&settings, &sdk, &engine);
    Ok(Deployment { engine, guard })
}

/// Runs one command line (`args[0]` is the program name). Never panics; what it prints is in
/// `out`, and the exit status is returned.
pub async fn run<I, T>(args: I, env: &Environment<'_>, out: &mut Output) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            return if e.use_stderr() {
                out.err(text);
                Exit::Usage
            } else {
                // --help, --version
                out.out(text);
                Exit::Ok
            };
        }
    };
    if let Command::CheckPolicy { domain_ids, files } = &cli.command {
        let ids = domain_ids
            .clone()
            .or_else(|| (env.var)("WARDEN_DOMAIN_IDS"))
            .unwrap_or_else(|| "{}".to_owned());
        return check::run(&ids, files, cli.json, out);
    }
    if let Err(usage) = check_usage(&cli, env) {
        out.err(format!("error: {usage}\n"));
        return Exit::Usage;
    }
    let d = match deployment(&cli, env).await {
        Ok(d) => d,
        Err(e) => return failed(&e, out),
    };
    match command(&cli, &d, env, out).await {
        Ok(exit) => exit,
        Err(e) => failed(&e, out),
    }
}

/// Usage errors the parser cannot see.
fn check_usage(cli: &Cli, env: &Environment<'_>) -> Result<(), String> {
    match &cli.command {
        Command::Explain { user, .. } | Command::History { user } if user.trim().is_empty() => {
            Err("USER is empty: give a user name or a user id".to_owned())
        }
        Command::Approve { by, .. } | Command::Discard { by, .. }
            if by.is_none() && (env.var)("USER").is_none_or(|u| u.trim().is_empty()) =>
        {
            Err("say who decides: --by NAME ($USER is not set)".to_owned())
        }
        _ => Ok(()),
    }
}

async fn command(
    cli: &Cli,
    d: &Deployment,
    env: &Environment<'_>,
    out: &mut Output,
) -> Result<Exit, WardenError> {
    let engine = &d.engine;
    match &cli.command {
        Command::Explain { user, rows } => {
            let Some(found) = explain::find_user(engine, user).await? else {
                return Ok(not_found(user, engine, out));
            };
            let e = explain::explain(engine, found, env.now, *rows).await?;
            if cli.json {
                out.json(&e);
            } else {
                out.out(render::explanation(&e));
            }
            Ok(Exit::Ok)
        }
        Command::History { user } => {
            let Some(found) = explain::find_user(engine, user).await? else {
                return Ok(not_found(user, engine, out));
            };
            let rows = engine.ledger.history(&found.id).await?;
            if cli.json {
                out.json(&rows);
            } else {
                out.out(render::history(&found.user_name, &rows));
            }
            Ok(Exit::Ok)
        }
        Command::Findings { domain, status } => {
            let domain = match domain {
                None => None,
                Some(name) => match engine
                    .policy
                    .domains
                    .iter()
                    .find(|d| d.name == *name || d.id.as_str() == name.as_str())
                {
                    Some(d) => Some(d),
                    None => {
                        let known: Vec<&str> = engine
                            .policy
                            .domains
                            .iter()
                            .map(|d| d.name.as_str())
                            .collect();
                        out.err(format!(
                            "error: the policy has no domain {name:?} (its domains: {})\n",
                            known.join(", ")
                        ));
                        return Ok(Exit::Usage);
                    }
                },
            };
            let found = explain::findings(engine, domain, status.map(Into::into)).await?;
            if cli.json {
                out.json(&found);
            } else {
                out.out(render::findings(&found));
            }
            let open = found.iter().any(|f| f.state.status == FindingStatus::Open);
            Ok(if open { Exit::Problems } else { Exit::Ok })
        }
        Command::Holds => {
            let holds = explain::holds(engine).await?;
            if cli.json {
                out.json(&holds);
            } else {
                out.out(render::holds(&holds));
            }
            let pending = holds
                .iter()
                .any(|h| h.hold.status == crate::safety::HoldStatus::Pending);
            Ok(if pending { Exit::Problems } else { Exit::Ok })
        }
        Command::Approve { hold, by } | Command::Discard { hold, by } => {
            let approve = matches!(cli.command, Command::Approve { .. });
            let by = by.clone().or_else(|| (env.var)("USER")).unwrap_or_default();
            decide(engine, hold, approve, &by, env.now, cli.json, out).await
        }
        Command::Plan => {
            // The very payload compliance-sweep is given, classified as it classifies it.
            let inbound = crate::events::classify(
                &serde_json::json!({"mode": "plan"}),
                &engine.policy.identity_store.id,
            )?;
            let report = Box::pin(crate::service::route(
                engine,
                &d.guard,
                &crate::fanout::NoFanOut,
                inbound,
                env.now,
                None,
            ))
            .await?;
            if cli.json {
                out.json(&report.to_response()?);
            } else {
                out.out(render::plan(&report));
            }
            let r = &report.reconcile;
            let drift_failed = report
                .drift
                .as_ref()
                .is_some_and(|d| !d.failures.is_empty());
            let attention = r.hold.is_some()
                || !r.held.is_empty()
                || !r.failures.is_empty()
                || drift_failed
                || !r.complete;
            Ok(if attention { Exit::Problems } else { Exit::Ok })
        }
        Command::Sweeps { limit } => {
            let sweeps = engine.ledger.sweeps(*limit).await?;
            if cli.json {
                out.json(&sweeps);
            } else {
                out.out(render::sweeps(&sweeps));
            }
            let healthy = sweeps
                .first()
                .is_some_and(|s| s.complete && s.failures == 0);
            Ok(if healthy { Exit::Ok } else { Exit::Problems })
        }
        Command::CheckPolicy { .. } => Ok(Exit::Ok),
    }
}

/// `approve` / `discard`: the decision goes through [`Engine::decide`](crate::engine::Engine::decide),
/// as compliance-sweep's does, recorded as decided by `cli:<who>`.
async fn decide(
    engine: &AwsEngine,
    hold: &str,
    approve: bool,
    by: &str,
    now: Epoch,
    json: bool,
    out: &mut Output,
) -> Result<Exit, WardenError> {
    let who = format!("cli:{by}");
    if let Err(e) = engine.decide(hold, approve, &who, now).await {
        if let WardenError::Hold(why) = &e {
            out.err(format!(
                "error: {why}\n  what to do: `studio-warden holds` lists the holds and their status\n"
            ));
            return Ok(Exit::Problems);
        }
        return Err(e);
    }
    let decided = engine
        .ledger
        .holds()
        .await?
        .into_iter()
        .find(|h| h.id == hold);
    if json {
        out.json(&decided);
    } else if let Some(h) = decided {
        let what = if approve { "approved" } else { "discarded" };
        out.out(format!(
            "hold {} {what} by {} ({} user(s))\n",
            h.id,
            h.decided_by.as_deref().unwrap_or(&who),
            h.users.len()
        ));
        out.out(if approve {
            "the next sweep (scheduled, or {\"mode\":\"apply\"} to compliance-sweep) starts their grace periods; each history row will say \"released by hold\" with its id\n"
        } else {
            "nothing is released; a sweep that still finds too many leavers records a new hold\n"
        });
    }
    Ok(Exit::Ok)
}

fn not_found(who: &str, engine: &AwsEngine, out: &mut Output) -> Exit {
    out.err(format!(
        "error: no user {who:?}: identity store {} has no user with this user name or id, and the ledger knows none\n  what to do: give the Identity Center user name exactly as it is there (e.g. jane.doe@example.com), or the user id\n",
        engine.policy.identity_store.id
    ));
    Exit::Problems
}

/// What an error means for the operator, and the exit status 3.
fn failed(e: &WardenError, out: &mut Output) -> Exit {
    out.err(format!("error: {e}\n"));
    if let Some(hint) = hint(e) {
        out.err(format!("  what to do: {hint}\n"));
    }
    Exit::Failed
}

/// What to do about an error, from its kind and AWS error code (never from its message).
pub fn hint(e: &WardenError) -> Option<String> {
    Some(match e {
        WardenError::Config(_) => "the CLI reads the functions' settings: --policy or WARDEN_POLICY_FILE (or WARDEN_POLICY), --table or WARDEN_TABLE, WARDEN_DOMAIN_IDS; see --help".to_owned(),
        WardenError::Policy(_) => "fix the policy; `studio-warden check-policy FILE` lists every error with its line".to_owned(),
        WardenError::LedgerCorrupt { .. } => "a ledger item cannot be read: it was edited by hand or written by another version of studio-warden".to_owned(),
        WardenError::Aws { service, operation, code, retryable, .. } => match code.as_deref() {
            Some(
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation"
                | "UnrecognizedClientException" | "InvalidClientTokenId"
                | "ExpiredToken" | "ExpiredTokenException",
            ) => format!(
                "the credentials in use may not call {service} {operation}: check AWS_PROFILE (or `aws sso login`) and the operator's IAM permissions"
            ),
            Some("ResourceNotFoundException") if *service == "dynamodb" => {
                "the ledger table does not exist here: check --table / WARDEN_TABLE and AWS_REGION".to_owned()
            }
            Some("ResourceNotFoundException") if *service == "identitystore" => {
                "the policy's identity store is not in this account and region: check identity_store.id and identity_store.region".to_owned()
            }
            None => "AWS was not reached, or no credentials were found: check AWS_PROFILE, AWS_REGION and the network; for the emulator, `make emulator` and AWS_ENDPOINT_URL=http://127.0.0.1:5055".to_owned(),
            Some(_) if *retryable => "AWS throttled or failed for now: try again in a moment".to_owned(),
            Some(_) => return None,
        },
        _ => return None,
    })
}
