//! Ports: the small traits through which the core reaches the outside world. Each has one
//! adapter over the real AWS SDK client (in `adapters`) and can be faked in tests.

use std::collections::BTreeMap;
use std::future::Future;

use serde::Serialize;

use crate::error::Result;
use crate::ids::{DomainId, GroupId, MembershipId, ResourceName, UserId};
use crate::model::{DomainDescription, Epoch, ProfileSummary, UserRecord};
use crate::policy::ProfileTemplate;

/// The Identity Store, read-only.
pub trait Directory: Send + Sync {
    /// A user, or `None` if the user does not exist (deleted).
    fn user(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<crate::model::User>>> + Send;
    /// Every user of the store (paginated). Used by the sweep: one pass instead of a call per user.
    fn users(&self) -> impl Future<Output = Result<Vec<crate::model::User>>> + Send;
    /// The groups a user belongs to.
    fn groups_of(&self, user: &UserId) -> impl Future<Output = Result<Vec<GroupId>>> + Send;
    /// The members of a group, with their membership ids; `None` if the group does not exist
    /// (a deleted group is not a group without members: its members are held, see
    /// [`crate::desired::MappingStatus`]).
    fn members_of(
        &self,
        group: &GroupId,
    ) -> impl Future<Output = Result<Option<Vec<(MembershipId, UserId)>>>> + Send;
    /// A group's display name, or `None` if the group does not exist (deleted).
    fn group_name(&self, group: &GroupId) -> impl Future<Output = Result<Option<String>>> + Send;
    /// A group's id from its display name, or `None` if there is no such group.
    fn group_id(&self, display_name: &str) -> impl Future<Output = Result<Option<GroupId>>> + Send;
    /// A user's id from their user name (`GetUserId`), or `None` if no user has it. Used by
    /// the operator CLI, which is asked about people by name.
    fn user_id(&self, user_name: &str) -> impl Future<Output = Result<Option<UserId>>> + Send;
}

/// What SageMaker needs to create or update a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileSpec {
    pub template: ProfileTemplate,
    /// All the tags, studio-warden's ownership tags included.
    pub tags: BTreeMap<String, String>,
    /// For SSO-mode domains: the Identity Center user name (`SingleSignOnUserValue`).
    pub sso_user_name: Option<String>,
}

/// The outcome of a create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// A profile of that name exists already (`ResourceInUse`).
    AlreadyExists,
}

/// The outcome of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    Updated,
    /// SageMaker refused for now (`ResourceInUse`: the profile is busy); try again later.
    Deferred(String),
    /// SageMaker rejected the settings (`ValidationException`): the same request fails again
    /// until the settings change.
    Rejected(String),
}

/// An app of a profile or a space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppSummary {
    pub app_type: String,
    pub app_name: String,
    pub status: String,
    pub user_profile: Option<String>,
    pub space: Option<String>,
}

/// A space, with its owner and sharing type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpaceSummary {
    pub name: String,
    pub status: String,
    pub owner: Option<String>,
    pub private: bool,
}

/// SageMaker plus the domain's Identity Center application assignments.
pub trait Studio: Send + Sync {
    fn describe_domain(
        &self,
        domain: &DomainId,
    ) -> impl Future<Output = Result<DomainDescription>> + Send;
    /// Every profile of a domain (paginated, 100 a page).
    fn list_profiles(
        &self,
        domain: &DomainId,
    ) -> impl Future<Output = Result<Vec<ProfileSummary>>> + Send;
    /// One profile, or `None` if it does not exist.
    fn describe_profile(
        &self,
        domain: &DomainId,
        name: &ResourceName,
    ) -> impl Future<Output = Result<Option<ProfileSummary>>> + Send;
    fn create_profile(
        &self,
        domain: &DomainId,
        name: &ResourceName,
        spec: &ProfileSpec,
    ) -> impl Future<Output = Result<CreateOutcome>> + Send;
    fn update_profile(
        &self,
        domain: &DomainId,
        name: &ResourceName,
        spec: &ProfileSpec,
    ) -> impl Future<Output = Result<UpdateOutcome>> + Send;
    /// Starts deleting a profile. `Ok(false)` when SageMaker refuses because apps or spaces
    /// remain (`ResourceInUse`); a missing profile counts as deleted.
    fn delete_profile(
        &self,
        domain: &DomainId,
        name: &ResourceName,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The tags of a profile, or `None` if the profile does not exist (any more).
    fn profile_tags(
        &self,
        domain: &DomainId,
        name: &ResourceName,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>>> + Send;
    /// Adds or overwrites the tags `add` and removes the keys `remove` on a profile
    /// (`AddTags`, `DeleteTags`); either may be empty.
    fn retag_profile(
        &self,
        domain: &DomainId,
        name: &ResourceName,
        add: &BTreeMap<String, String>,
        remove: &[String],
    ) -> impl Future<Output = Result<()>> + Send;
    /// The apps of a user profile.
    fn profile_apps(
        &self,
        domain: &DomainId,
        profile: &ResourceName,
    ) -> impl Future<Output = Result<Vec<AppSummary>>> + Send;
    /// The apps of a space.
    fn space_apps(
        &self,
        domain: &DomainId,
        space: &str,
    ) -> impl Future<Output = Result<Vec<AppSummary>>> + Send;
    /// Starts deleting an app; an app already gone or deleted counts as done.
    fn delete_app(
        &self,
        domain: &DomainId,
        app: &AppSummary,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Every space of a domain.
    fn list_spaces(
        &self,
        domain: &DomainId,
    ) -> impl Future<Output = Result<Vec<SpaceSummary>>> + Send;
    /// Starts deleting a space. `Ok(false)` when apps remain; a missing space counts as deleted.
    fn delete_space(
        &self,
        domain: &DomainId,
        space: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Creates the private JupyterLab space `space` asks for, owned by profile `owner` and
    /// named like it; `AlreadyExists` when a space of that name exists (`ResourceInUse`).
    fn create_private_space(
        &self,
        domain: &DomainId,
        owner: &ResourceName,
        space: &crate::template::PrivateSpace,
    ) -> impl Future<Output = Result<CreateOutcome>> + Send;
    /// Assigns a user to an Identity Center application (idempotent).
    fn assign(
        &self,
        application_arn: &str,
        user: &UserId,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Removes a user's assignment (idempotent).
    fn unassign(
        &self,
        application_arn: &str,
        user: &UserId,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// One row of a user's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    pub user: UserId,
    pub domain: DomainId,
    pub profile: Option<ResourceName>,
    /// What was done or decided, e.g. `Create`, `StartGrace`, `DeleteApps`.
    pub action: String,
    pub reason: String,
    /// The event id or the sweep id that led to it.
    pub trigger: String,
    /// `ok`, `planned`, `deferred: …`, `failed: …`, `skipped: …`.
    pub outcome: String,
    pub at: Epoch,
}

/// A sweep's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SweepSummary {
    pub sweep_id: String,
    pub mode: String,
    pub started_at: Epoch,
    pub finished_at: Epoch,
    /// False when the sweep stopped early (the deadline) and the next run must finish.
    pub complete: bool,
    pub actions: BTreeMap<String, u64>,
    pub failures: u64,
    pub unmanaged: u64,
    /// A fanned-out sweep: the domains enqueued and, once read back, what their workers
    /// reported (their actions, failures and unmanaged profiles are added to the above, and
    /// `complete` holds only when every domain reported its work complete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanned_out: Option<crate::fanout::Progress>,
}

/// The group id a display-name mapping resolved to the first time, kept so that a rename or a
/// re-created group of the same name never silently changes who the mapping means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Pin {
    pub display_name: String,
    pub group: GroupId,
    pub pinned_at: Epoch,
    /// The event or sweep that pinned it.
    pub trigger: String,
}

/// The DynamoDB ledger.
pub trait Ledger: Send + Sync {
    /// Every hold (few: one per tripped threshold), oldest first.
    fn holds(&self) -> impl Future<Output = Result<Vec<crate::safety::Hold>>> + Send;
    /// Writes a hold if nobody else wrote since `hold.version - 1` (or, for version 1, if
    /// there is none); `Err(LedgerConflict)` otherwise.
    fn save_hold(&self, hold: &crate::safety::Hold) -> impl Future<Output = Result<()>> + Send;
    /// Every pinned display-name mapping.
    fn pins(&self) -> impl Future<Output = Result<Vec<Pin>>> + Send;
    /// Pins a display name to a group id if it is not pinned yet; `Err(LedgerConflict)` if
    /// another invocation pinned it first.
    fn pin(&self, pin: &Pin) -> impl Future<Output = Result<()>> + Send;
    /// The record of one user in one domain.
    fn record(
        &self,
        domain: &DomainId,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<UserRecord>>> + Send;
    /// Every record of a domain.
    fn records(&self, domain: &DomainId) -> impl Future<Output = Result<Vec<UserRecord>>> + Send;
    /// Writes a record if nobody else wrote since `record.version - 1` (or, for version 1, if
    /// there is no record). `Err(LedgerConflict)` if somebody did.
    fn put_record(&self, record: &UserRecord) -> impl Future<Output = Result<()>> + Send;
    /// Appends to a user's history. Never overwrites.
    fn append(&self, entry: &HistoryEntry) -> impl Future<Output = Result<()>> + Send;
    /// Writes a record (as [`Ledger::put_record`]) and the history row that explains it, in
    /// one transaction: both or neither, so that no cut or failure between the two can leave
    /// a state change without its history row.
    fn commit(
        &self,
        record: &UserRecord,
        entry: &HistoryEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// A user's history, oldest first.
    fn history(&self, user: &UserId) -> impl Future<Output = Result<Vec<HistoryEntry>>> + Send;
    /// Whether an event was already handled to the end.
    fn event_seen(&self, event_id: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Marks an event handled; forgotten after `ttl_secs`.
    fn mark_event(
        &self,
        event_id: &str,
        now: Epoch,
        ttl_secs: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Remembers which group and user a membership id stands for.
    fn remember_membership(
        &self,
        membership: &MembershipId,
        group: &GroupId,
        user: &UserId,
    ) -> impl Future<Output = Result<()>> + Send;
    fn membership(
        &self,
        membership: &MembershipId,
    ) -> impl Future<Output = Result<Option<(GroupId, UserId)>>> + Send;
    fn record_sweep(&self, summary: &SweepSummary) -> impl Future<Output = Result<()>> + Send;
    /// The `limit` most recent sweep summaries, the latest first (by `started_at`).
    fn sweeps(&self, limit: usize) -> impl Future<Output = Result<Vec<SweepSummary>>> + Send;
}
