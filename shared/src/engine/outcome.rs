//! What became of each planned action, and what a run did: typed, displayed once for the
//! ledger's history and the JSON response.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Serialize, Serializer};

use crate::ids::{DomainId, ResourceName, UserId};
use crate::model::{Attention, DomainView, Epoch, Mode, rfc3339};
use crate::planner::Action;

/// The outcome of one action. `Display` gives the words the ledger's history keeps (their
/// schema is the text); the engine decides only from the variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Ok,
    /// Created earlier by this user's own interrupted run: the profile carries our tags.
    Adopted,
    /// Plan mode: nothing done.
    Planned,
    /// The policy's `dry_run`: recorded in the history, nothing done.
    PlannedByPolicy,
    /// Too close to the deadline to start; the next run does it.
    NotStarted,
    /// An unmanaged profile, reported and left alone.
    Reported,
    /// The action needs a ledger record and there was none.
    NoRecord,
    /// Another invocation claimed the user first (it creates the profile).
    ClaimedElsewhere,
    /// Another invocation changed the record between this run's read and its write: the user
    /// is re-read and reconciled once more.
    LedgerConflict,
    /// The profile name is held by a profile that is not studio-warden's for this user, and so
    /// is every alternative name.
    NameTaken { profile: ResourceName },
    /// Created (or adopted) under a deterministic alternative name: `taken` is held by a
    /// profile that is not studio-warden's for this user.
    CreatedAs {
        profile: ResourceName,
        taken: ResourceName,
    },
    /// SageMaker refused for now; a later run tries again.
    Deferred(String),
    /// SageMaker rejected the mapping's settings: recorded on the user and alerted; not tried
    /// again until the settings change.
    Rejected(String),
    /// Offboarding removed the user's access but cannot go on until an operator acts.
    Blocked(Attention),
    /// The action failed (the error, as text).
    Failed(String),
    /// Offboarding advanced and waits for SageMaker.
    InProgress(Progress),
    /// SageMaker still sees apps or spaces of the profile (`ResourceInUse` on delete).
    Waiting,
    /// Offboarding stopped: the user is entitled again.
    Halted,
    /// Offboarding refused: the profile lacks the ownership tag for this user. The record is
    /// closed and the profile left alone.
    Refused,
    /// The first stage of offboarding is done: apps and access removed, the profile tagged
    /// suspended, its data kept until `until` (the suspension plus `[offboarding] retention`),
    /// or for ever (`None`: `remove = "apps"`). `attention`: what will stop the deletion
    /// unless an operator acts first (shared spaces the policy keeps). `unmarked`: SageMaker
    /// refused the suspended tag (the error), which nothing depends on.
    Suspended {
        until: Option<Epoch>,
        attention: Option<Attention>,
        unmarked: Option<String>,
    },
    /// The profile is gone and the record closed.
    Offboarded,
}

/// What an offboarding pass is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    AppsDeleting(usize),
    SpacesDeleting(usize),
    SpaceAppsDeleting(usize),
    ProfileDeleting,
}

impl Outcome {
    /// Whether the action did what it set out to do (`ok`, or adopted).
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            Outcome::Ok | Outcome::Adopted | Outcome::CreatedAs { .. }
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Adopted => f.write_str("ok (already existed: adopted)"),
            Outcome::Planned => f.write_str("planned"),
            Outcome::PlannedByPolicy => f.write_str("planned (policy dry_run)"),
            Outcome::NotStarted => f.write_str("not started: deadline"),
            Outcome::Reported => f.write_str("reported"),
            Outcome::NoRecord => f.write_str("skipped: no ledger record"),
            Outcome::ClaimedElsewhere => {
                f.write_str("skipped: another invocation claimed this user first")
            }
            Outcome::LedgerConflict => {
                f.write_str("conflict: another invocation changed the record first; re-read")
            }
            Outcome::NameTaken { profile } => write!(
                f,
                "conflict: profile {profile} exists and is not studio-warden's profile for this user; left alone"
            ),
            Outcome::CreatedAs { profile, taken } => write!(
                f,
                "ok (created as {profile}: {taken} is held by a profile that is not studio-warden's for this user)"
            ),
            Outcome::Deferred(why) => write!(f, "deferred: {why}"),
            Outcome::Rejected(why) => write!(
                f,
                "failed: SageMaker rejected the mapping's settings (not retried until they change): {why}"
            ),
            Outcome::Blocked(why) => write!(f, "blocked: access removed; {why}"),
            Outcome::Failed(e) => write!(f, "failed: {e}"),
            Outcome::InProgress(p) => match p {
                Progress::AppsDeleting(n) => write!(f, "in progress: {n} app(s) deleting"),
                Progress::SpacesDeleting(n) => {
                    write!(f, "in progress: {n} private space(s) deleting")
                }
                Progress::SpaceAppsDeleting(n) => {
                    write!(f, "in progress: apps of {n} private space(s) deleting")
                }
                Progress::ProfileDeleting => f.write_str("in progress: profile deleting"),
            },
            Outcome::Waiting => f.write_str("waiting: SageMaker still sees apps or spaces"),
            Outcome::Halted => f.write_str("halted: the user is entitled again"),
            Outcome::Refused => f.write_str(
                "refused: the profile lacks studio-warden's ownership tag for this user; left alone, record closed",
            ),
            Outcome::Suspended {
                until,
                attention,
                unmarked,
            } => {
                match until {
                    None => f.write_str(
                        "suspended: apps and access removed; profile, spaces and home kept by policy",
                    )?,
                    Some(t) => write!(
                        f,
                        "suspended: apps and access removed; profile and spaces kept until {} (retention)",
                        rfc3339(*t)
                    )?,
                }
                if let Some(a) = attention {
                    write!(f, "; the deletion will wait for an operator: {a}")?;
                }
                if let Some(e) = unmarked {
                    write!(f, "; not tagged suspended: {e}")?;
                }
                Ok(())
            }
            Outcome::Offboarded => f.write_str("offboarded"),
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One planned action and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct ActionReport {
    pub domain: DomainId,
    #[serde(flatten)]
    pub action: Action,
    pub outcome: Outcome,
}

/// Actions in report order: by domain, user, then kind.
pub(super) fn sort_actions(actions: &mut [ActionReport]) {
    actions.sort_by(|a, b| {
        (
            a.domain.as_str(),
            a.action.user().map(UserId::as_str),
            a.action.kind(),
        )
            .cmp(&(
                b.domain.as_str(),
                b.action.user().map(UserId::as_str),
                b.action.kind(),
            ))
    });
}

/// The actions of a pass, after those of the passes before it: an earlier pass's action
/// stays unless the later pass acted on the same user in the same way (the later outcome is
/// the one that stands: a create that failed, then succeeded, is one create). Actions on no
/// user (unmanaged profiles, reported each pass from a fresh listing) come from the later
/// pass only.
pub(super) fn merge_passes(
    earlier: Vec<ActionReport>,
    later: Vec<ActionReport>,
) -> Vec<ActionReport> {
    let redone: BTreeSet<(UserId, &'static str)> = later
        .iter()
        .filter_map(|a| a.action.user().map(|u| (u.clone(), a.action.kind())))
        .collect();
    let mut out: Vec<ActionReport> = earlier
        .into_iter()
        .filter(|a| {
            a.action
                .user()
                .is_some_and(|u| !redone.contains(&(u.clone(), a.action.kind())))
        })
        .collect();
    out.extend(later);
    sort_actions(&mut out);
    out
}

/// What a run did (or, in plan mode, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub trigger: String,
    pub mode: Mode,
    /// False when the run stopped before the deadline with work left for the next run.
    pub complete: bool,
    pub actions: Vec<ActionReport>,
    /// Why nothing was done, for skipped and duplicate events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Leavers whose grace period or offboarding waits for an operator (the safety net).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<crate::safety::Held>,
    /// The hold this run recorded or restated (deletions waiting for an operator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<crate::safety::HoldReport>,
    /// The safety net's findings open after a full sweep (`rule#resource`), e.g.
    /// `mapping.renamed#ml-researchers`: alerted once when opened, like drift findings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub safety: Vec<String>,
    /// The open safety findings of [`Report::safety`], counted by severity (for the metrics).
    #[serde(skip)]
    pub open_by_severity: BTreeMap<crate::catalogue::Severity, u64>,
    /// A fanned-out sweep's coordinator: the work items it enqueued, one per domain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queued: Vec<crate::fanout::Queued>,
    /// A fanned-out sweep's coordinator: the domains it found settled (nothing to write), for
    /// the caller to drift-check from their observation, or to enqueue after all.
    #[serde(skip)]
    pub settled: Vec<super::fanout::Settled>,
    /// Failures, one line each; the run went on past them.
    pub failures: Vec<String>,
    /// Whether some failure may go away if the same input is tried again.
    #[serde(skip)]
    pub retryable_failure: bool,
    /// A sweep's observation of each domain it reconciled, as the run left it: the drift
    /// sweep that follows reads these instead of listing and querying again.
    #[serde(skip)]
    pub observed: BTreeMap<DomainId, DomainView>,
    /// Users whose record another invocation changed between this run's read and its write:
    /// re-read and reconciled once more before the run ends.
    #[serde(skip)]
    pub(super) conflicted: BTreeSet<UserId>,
}

impl Report {
    pub(crate) fn new(trigger: &str, mode: Mode) -> Self {
        Self {
            trigger: trigger.to_owned(),
            mode,
            complete: true,
            actions: Vec::new(),
            skipped: None,
            held: Vec::new(),
            hold: None,
            safety: Vec::new(),
            open_by_severity: BTreeMap::new(),
            queued: Vec::new(),
            settled: Vec::new(),
            failures: Vec::new(),
            retryable_failure: false,
            observed: BTreeMap::new(),
            conflicted: BTreeSet::new(),
        }
    }

    pub(super) fn skipped(trigger: &str, why: String) -> Self {
        let mut r = Self::new(trigger, Mode::Apply);
        r.skipped = Some(why);
        r
    }

    /// The reconcile part of a drift event's answer: nothing reconciled, the drift checks'
    /// failures.
    pub fn drift_only(drift: &crate::drift::DriftReport) -> Self {
        let mut r = Self::new(&drift.trigger, Mode::Apply);
        r.failures = drift.failures.clone();
        r
    }

    /// Counts of actions by kind.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for a in &self.actions {
            *out.entry(a.action.kind().to_owned()).or_insert(0) += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_as_the_ledger_has_always_kept_them() {
        let name = ResourceName::parse("jdoe-0a1b2c3d").expect("valid");
        let cases = [
            (Outcome::Ok, "ok"),
            (Outcome::Adopted, "ok (already existed: adopted)"),
            (Outcome::NotStarted, "not started: deadline"),
            (
                Outcome::InProgress(Progress::AppsDeleting(2)),
                "in progress: 2 app(s) deleting",
            ),
            (
                Outcome::NameTaken { profile: name },
                "conflict: profile jdoe-0a1b2c3d exists and is not studio-warden's profile for this user; left alone",
            ),
            (Outcome::Offboarded, "offboarded"),
            (
                Outcome::Suspended {
                    until: None,
                    attention: None,
                    unmarked: None,
                },
                "suspended: apps and access removed; profile, spaces and home kept by policy",
            ),
            (
                Outcome::Suspended {
                    until: Some(1_790_000_000),
                    attention: None,
                    unmarked: None,
                },
                "suspended: apps and access removed; profile and spaces kept until 2026-09-21T14:13:20Z (retention)",
            ),
            (
                Outcome::Suspended {
                    until: Some(1_790_000_000),
                    attention: Some(Attention::SharedSpaces {
                        spaces: vec!["team-a".into()],
                    }),
                    unmarked: Some("SageMaker AddTags failed: denied".into()),
                },
                "suspended: apps and access removed; profile and spaces kept until 2026-09-21T14:13:20Z (retention); the deletion will wait for an operator: the profile owns shared space(s) team-a and [offboarding] shared_spaces = \"keep\"; not tagged suspended: SageMaker AddTags failed: denied",
            ),
            (
                Outcome::Blocked(Attention::SharedSpaces {
                    spaces: vec!["team-a".into(), "team-b".into()],
                }),
                "blocked: access removed; the profile owns shared space(s) team-a, team-b and [offboarding] shared_spaces = \"keep\"",
            ),
        ];
        for (outcome, text) in cases {
            assert_eq!(outcome.to_string(), text);
            assert_eq!(
                serde_json::to_value(&outcome).expect("serialises"),
                serde_json::json!(text)
            );
        }
        assert!(Outcome::Adopted.is_ok());
        assert!(!Outcome::Deferred("x".into()).is_ok());
    }

    #[test]
    fn a_later_pass_replaces_the_same_action_on_a_user_and_the_earlier_rest_stays() {
        let domain = DomainId::parse("d-0a1b2c3d4e5f").expect("valid");
        let name = ResourceName::parse("jdoe-0a1b2c3d").expect("valid");
        let user = |u: &str| UserId::parse(u).expect("valid");
        let forget = |u: &str, outcome: Outcome| ActionReport {
            domain: domain.clone(),
            action: Action::Forget {
                user: user(u),
                profile: name.clone(),
                reason: "left".into(),
            },
            outcome,
        };
        let unmanaged = ActionReport {
            domain: domain.clone(),
            action: Action::ReportUnmanaged {
                profile: name.clone(),
                status: crate::model::ProfileStatus::InService,
            },
            outcome: Outcome::Reported,
        };
        let first = vec![
            forget(
                "90676c1f2a-11111111-2222-3333-4444-555555555551",
                Outcome::Ok,
            ),
            forget(
                "90676c1f2a-11111111-2222-3333-4444-555555555552",
                Outcome::Failed("throttled".into()),
            ),
            unmanaged.clone(),
        ];
        let second = vec![
            forget(
                "90676c1f2a-11111111-2222-3333-4444-555555555552",
                Outcome::Ok,
            ),
            unmanaged,
        ];
        let merged = merge_passes(first, second);
        let seen: Vec<(Option<&str>, &str, String)> = merged
            .iter()
            .map(|a| {
                (
                    a.action.user().map(UserId::as_str),
                    a.action.kind(),
                    a.outcome.to_string(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (None, "ReportUnmanaged", Outcome::Reported.to_string()),
                (
                    Some("90676c1f2a-11111111-2222-3333-4444-555555555551"),
                    "Forget",
                    "ok".to_owned()
                ),
                (
                    Some("90676c1f2a-11111111-2222-3333-4444-555555555552"),
                    "Forget",
                    "ok".to_owned()
                ),
            ]
        );
    }
}
