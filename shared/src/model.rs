//! The core's vocabulary: what the Identity Store says, what SageMaker shows, what the ledger
//! remembers. Plain data, no I/O.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::clock::{Epoch, rfc3339};
use crate::ids::{DomainId, GroupId, ResourceName, UserId};
use crate::template::ProfileTemplate;

/// Whether a run acts or only shows what it would do: one type for the sweep request, the
/// engine and the drift checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Apply,
    /// Compute the plan; write nothing anywhere.
    Plan,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Apply => "apply",
            Mode::Plan => "plan",
        })
    }
}

/// An Identity Store user as studio-warden needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub user_name: String,
    /// `UserStatus` from the Identity Store; a disabled user is entitled to nothing.
    pub enabled: bool,
}

/// What one user should have in one domain: the winning mapping's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entitlement {
    pub user: UserId,
    pub user_name: String,
    /// Index of the winning mapping in the policy.
    pub mapping: usize,
    pub group: GroupId,
    /// The group as the policy names it, for people: `group "ml-researchers"`.
    pub group_label: String,
    pub template: ProfileTemplate,
    /// Fingerprint of `template`, kept in the ledger to notice a changed mapping without
    /// describing the profile.
    pub template_hash: String,
}

/// A SageMaker user profile status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProfileStatus {
    Pending,
    InService,
    Updating,
    UpdateFailed,
    Failed,
    Deleting,
    DeleteFailed,
    /// A status this version does not know; treated as "not ready, do not touch".
    Other(String),
}

impl ProfileStatus {
    pub fn from_api(s: &str) -> Self {
        match s {
            "Pending" => Self::Pending,
            "InService" => Self::InService,
            "Updating" => Self::Updating,
            "Update_Failed" => Self::UpdateFailed,
            "Failed" => Self::Failed,
            "Deleting" => Self::Deleting,
            "Delete_Failed" => Self::DeleteFailed,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_api(&self) -> &str {
        match self {
            Self::Pending => "Pending",
            Self::InService => "InService",
            Self::Updating => "Updating",
            Self::UpdateFailed => "Update_Failed",
            Self::Failed => "Failed",
            Self::Deleting => "Deleting",
            Self::DeleteFailed => "Delete_Failed",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for ProfileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_api())
    }
}

/// What `DescribeDomain` says about a domain: how users sign in (the engine) and its security
/// posture (the drift rules). A sweep describes each domain once and both use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainDescription {
    pub id: DomainId,
    pub name: String,
    pub status: String,
    /// `IAM` or `SSO`.
    pub auth_mode: String,
    /// The domain's Identity Center application (SSO-mode domains created after September 2023).
    pub sso_application_arn: Option<String>,
    /// `PublicInternetOnly` or `VpcOnly`.
    pub app_network_access_type: String,
    pub vpc_id: Option<String>,
    pub subnet_ids: Vec<String>,
    /// `DomainSettings.SecurityGroupIds` (the domain's own groups).
    pub security_group_ids: Vec<String>,
    /// `DefaultUserSettings.SecurityGroups`.
    pub default_user_security_groups: Vec<String>,
    /// `DefaultUserSettings.ExecutionRole`.
    pub default_user_execution_role: Option<String>,
    /// `DefaultSpaceSettings.SecurityGroups`.
    pub default_space_security_groups: Vec<String>,
    /// `KmsKeyId`: the customer-managed key of the domain's EFS volume and EBS volumes.
    pub kms_key_id: Option<String>,
    /// `DomainSettings.DockerSettings.EnableDockerAccess` (`ENABLED` / `DISABLED`).
    pub docker_access: Option<String>,
    /// `DomainSettings.DockerSettings.VpcOnlyTrustedAccounts`.
    pub vpc_only_trusted_accounts: Vec<String>,
}

/// A profile as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileSummary {
    pub name: ResourceName,
    pub status: ProfileStatus,
    /// `LastModifiedTime` in epoch milliseconds: SageMaker moves it on every change of the
    /// profile, so the drift sweep describes only profiles whose stamp moved.
    pub modified_ms: Option<i64>,
}

/// Where a user is in their life in one domain, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase")]
pub enum Phase {
    /// The profile name is claimed and creation is under way (or must be resumed).
    Creating,
    /// The user is entitled and has (or is getting) a profile.
    Active,
    /// Entitlement lost at `since`; the suspension starts when the grace period has passed.
    Grace { since: Epoch },
    /// The grace period is over and the user's access is being removed since `since`: the SSO
    /// assignment removed, the profile tagged suspended, its apps and the apps of its private
    /// spaces deleting (SageMaker takes its time).
    Suspending { since: Epoch },
    /// Access removed (the first stage of offboarding), counted from `at`, the time the
    /// suspension began and the value of the profile's `studio-warden:suspended` tag: no apps,
    /// no SSO assignment; the profile, its spaces and home directories kept. The data is
    /// deleted once `[offboarding] retention` has passed since `at`, never with
    /// `remove = "apps"`. Rejoining restores the user, data intact.
    Suspended { at: Epoch },
    /// Deleting the user's data (the second stage), after the retention; `step` is the last
    /// step reached, for people reading the ledger.
    Offboarding { since: Epoch, step: OffboardStep },
    /// The profile is gone; the record stays as the end of the user's story.
    Offboarded { at: Epoch },
}

impl Phase {
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Creating => "Creating",
            Phase::Active => "Active",
            Phase::Grace { .. } => "Grace",
            Phase::Suspending { .. } => "Suspending",
            Phase::Suspended { .. } => "Suspended",
            Phase::Offboarding { .. } => "Offboarding",
            Phase::Offboarded { .. } => "Offboarded",
        }
    }
}

/// The steps of deleting a suspended user's data, in the order SageMaker requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OffboardStep {
    DeletingApps,
    DeletingSpaces,
    DeletingProfile,
    /// Access is removed, but the profile cannot be deleted yet: it owns shared spaces the
    /// policy keeps, or SageMaker refuses the deletion. The record's [`Attention`] says which;
    /// every pass looks again, and carries on once the cause is gone.
    Blocked,
}

/// Something about a record that only an operator can resolve. Kept on the record so that the
/// drift sweep raises it as a finding (alerted once, resolved when the record moves on) and
/// so that no run retries a refused call without saying so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Attention {
    /// Offboarding keeps the profile because it owns shared spaces and the policy's
    /// `[offboarding] shared_spaces` is `keep` (SageMaker deletes no profile that owns a space).
    SharedSpaces { spaces: Vec<String> },
    /// SageMaker refused to delete the profile (`ResourceInUse`) although no app and no owned
    /// space of it was seen.
    DeleteRefused,
    /// SageMaker rejected the mapping's settings for this profile (`ValidationException` on
    /// `UpdateUserProfile`): the policy is wrong for AWS. Not retried until the mapping's
    /// settings change (`template_hash`).
    SettingsRejected {
        template_hash: String,
        message: String,
    },
}

impl std::fmt::Display for Attention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Attention::SharedSpaces { spaces } => write!(
                f,
                "the profile owns shared space(s) {} and [offboarding] shared_spaces = \"keep\"",
                spaces.join(", ")
            ),
            Attention::DeleteRefused => f.write_str(
                "SageMaker refuses to delete the profile (ResourceInUse) though no app or owned space of it is left",
            ),
            Attention::SettingsRejected { message, .. } => {
                write!(f, "SageMaker rejected the mapping's settings: {message}")
            }
        }
    }
}

/// The ledger's current state for one user in one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub domain: DomainId,
    pub user: UserId,
    pub user_name: String,
    pub profile: ResourceName,
    #[serde(flatten)]
    pub phase: Phase,
    /// The group whose mapping the profile was last given.
    pub group: Option<GroupId>,
    /// `template_hash` of the settings last applied to the profile.
    pub template_hash: Option<String>,
    /// The profile status last seen.
    pub profile_status: Option<ProfileStatus>,
    /// What an operator must resolve for this record to move on, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<Attention>,
    /// The approved hold under which the user's current leaving began: the grace period, the
    /// suspension or the deletion it let through the deletion threshold. The rest of that same
    /// leaving passes the threshold under it; it is cleared when the user is Active again, so
    /// an approval never covers a later leaving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_by: Option<String>,
    /// Optimistic-concurrency version: every write is conditional on the version it read.
    pub version: u64,
    pub updated_at: Epoch,
}

/// Which users a reconcile pass may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything in the domain: a sweep. Unmanaged profiles are reported.
    All,
    /// Only these users: an event.
    Users(BTreeSet<UserId>),
}

impl Scope {
    pub fn contains(&self, user: &UserId) -> bool {
        match self {
            Scope::All => true,
            Scope::Users(users) => users.contains(user),
        }
    }
}

/// One domain as a sweep's reconcile left it, handed to the drift sweep that follows so that
/// a compliance sweep lists each domain's profiles, queries its ledger records and describes
/// it once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainView {
    /// The profile listing, less the profiles the run found gone, and with no
    /// `modified_ms` for the profiles the run changed (so that drift describes them afresh).
    pub profiles: Vec<ProfileSummary>,
    /// The ledger's records after the run's writes.
    pub records: Vec<UserRecord>,
    /// `DescribeDomain`, when the run read it.
    pub description: Option<DomainDescription>,
}
