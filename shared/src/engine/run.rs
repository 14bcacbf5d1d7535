//! One run's context: what triggered it, whether it acts, its clock and deadline, the
//! policy's groups resolved once, and the records it wrote (for the observation it hands on).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::Report;
use crate::deadline;
use crate::desired::ResolvedMappings;
use crate::error::{Result, WardenError};
use crate::ids::{DomainId, ResourceName, UserId};
use crate::model::{DomainDescription, DomainView, Epoch, Mode, Phase, ProfileSummary, UserRecord};

/// Everything a run's steps share, in place of long argument lists.
pub(crate) struct Run {
    pub trigger: String,
    pub mode: Mode,
    /// The clock, read once when the run starts (grace periods, leases, history times).
    pub now: Epoch,
    pub deadline: Option<Instant>,
    margin: Duration,
    /// No AWS call is waited on past this (see [`crate::deadline`]).
    calls_by: Option<Instant>,
    /// Whether a call was abandoned at `calls_by`: the run is then incomplete.
    cut: AtomicBool,
    /// The policy's group references, resolved once per run (display names cost a call).
    pub resolved: ResolvedMappings,
    /// A sweep: describe each domain the drift sweep will check up front, and hand each
    /// domain's observation on in the report.
    pub hand_on: bool,
    /// The latest record this run wrote for each (domain, user).
    written: Mutex<BTreeMap<(DomainId, UserId), UserRecord>>,
    /// Profiles this run changed in SageMaker.
    touched: Mutex<BTreeSet<(DomainId, ResourceName)>>,
}

impl Run {
    pub fn new(
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<Instant>,
        margin: Duration,
        resolved: ResolvedMappings,
    ) -> Self {
        Self {
            trigger: trigger.to_owned(),
            mode,
            now,
            deadline,
            margin,
            calls_by: deadline::calls_by(deadline, margin),
            cut: AtomicBool::new(false),
            resolved,
            hand_on: false,
            written: Mutex::default(),
            touched: Mutex::default(),
        }
    }

    /// Whether less than the margin is left before the deadline: start nothing new.
    pub fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|d| Instant::now() + self.margin >= d)
    }

    /// `work` (AWS calls, the SDK's retries included), abandoned with
    /// [`crate::WardenError::DeadlineExceeded`] when the time for calls is up; the run is then
    /// marked cut (incomplete).
    pub fn bounded<'a, T: 'a>(
        &'a self,
        what: &'a str,
        work: impl Future<Output = Result<T>> + 'a,
    ) -> impl Future<Output = Result<T>> + 'a {
        let work = deadline::within(self.calls_by, what, work);
        async move {
            let done = work.await;
            if matches!(done, Err(crate::WardenError::DeadlineExceeded(_))) {
                self.cut.store(true, Ordering::SeqCst);
            }
            done
        }
    }

    /// Whether the deadline cut an AWS call of this run.
    pub fn was_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    pub(super) fn wrote(&self, record: &UserRecord) {
        if let Ok(mut w) = self.written.lock() {
            w.insert((record.domain.clone(), record.user.clone()), record.clone());
        }
    }

    pub(super) fn touched(&self, domain: &DomainId, profile: &ResourceName) {
        if let Ok(mut t) = self.touched.lock() {
            t.insert((domain.clone(), profile.clone()));
        }
    }

    /// The records of a domain as this run leaves them: `read` overlaid with its writes.
    pub(super) fn records_after(
        &self,
        domain: &DomainId,
        read: &BTreeMap<UserId, UserRecord>,
    ) -> Vec<UserRecord> {
        let mut out = read.clone();
        if let Ok(w) = self.written.lock() {
            for ((d, user), record) in w.iter() {
                if d == domain {
                    out.insert(user.clone(), record.clone());
                }
            }
        }
        out.into_values().collect()
    }

    /// Whether this run changed the profile in SageMaker.
    pub(super) fn changed(&self, domain: &DomainId, profile: &ResourceName) -> bool {
        self.touched
            .lock()
            .is_ok_and(|t| t.contains(&(domain.clone(), profile.clone())))
    }

    /// The domain as this run leaves it, for the drift sweep that follows: the records after
    /// its writes; the listing less the profiles it closed as offboarded, and with no stamp
    /// on the profiles it changed, so that drift describes those afresh.
    pub(super) fn view(
        &self,
        domain: &DomainId,
        listed: Vec<ProfileSummary>,
        read: &BTreeMap<UserId, UserRecord>,
        description: Option<DomainDescription>,
    ) -> DomainView {
        let records = self.records_after(domain, read);
        let closed: BTreeSet<ResourceName> = self
            .written
            .lock()
            .map(|w| {
                w.iter()
                    .filter(|((d, _), r)| {
                        d == domain && matches!(r.phase, Phase::Offboarded { .. })
                    })
                    .map(|(_, r)| r.profile.clone())
                    .collect()
            })
            .unwrap_or_default();
        let profiles = listed
            .into_iter()
            .filter(|p| !closed.contains(&p.name))
            .map(|mut p| {
                if self.changed(domain, &p.name) {
                    p.modified_ms = None;
                }
                p
            })
            .collect();
        DomainView {
            profiles,
            records,
            description,
        }
    }
}

/// A run at work in one domain: the run, the domain, and its description when one was read.
#[derive(Clone, Copy)]
pub(crate) struct InDomain<'a> {
    pub run: &'a Run,
    pub domain: &'a DomainId,
    pub info: Option<&'a DomainDescription>,
}

/// A reconcile's report once its work ended: a run cut by the deadline (a read or an action
/// abandoned, see [`crate::deadline`]) is incomplete, with what it did so far; any other error
/// fails the run.
pub(super) fn finish(run: &Run, mut report: Report, done: Result<()>) -> Result<Report> {
    match done {
        Ok(()) => {}
        Err(WardenError::DeadlineExceeded(why)) => {
            tracing::warn!(trigger = %run.trigger, %why, "run cut by the deadline: the rest is left to the next run");
        }
        Err(e) => return Err(e),
    }
    if run.was_cut() {
        report.complete = false;
    }
    Ok(report)
}
