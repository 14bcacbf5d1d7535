//! The policy: which Identity Center groups get which SageMaker settings, and how offboarding
//! behaves. One TOML file, parsed and validated once at cold start (and by `make check-policy`).
//!
//! TOML was chosen over YAML on purpose: no implicit typing (`no` stays a string, `010` is not
//! octal), comments, and a parser (the `toml` crate) that reports the line and column of every
//! error, which we extend to our own semantic checks through `toml::Spanned`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::ids::{AccountId, DomainId, GroupId, IdentityStoreId, SecurityGroupId, is_region};
pub use crate::template::{
    AppDefaults, AppTypeSettings, CustomImage, IdleShutdown, PrivateSpace, ProfileTemplate,
};

/// A policy error, with the field and the line it comes from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{origin}: {message}")]
    Unlocated { origin: String, message: String },
}

/// The validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The function's own account and region, as far as they are known: domains without an
    /// `account` and `region` live there.
    pub home: Home,
    pub identity_store: IdentityStore,
    pub domains: Vec<Domain>,
    pub mappings: Vec<Mapping>,
    pub offboarding: Offboarding,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IdentityStore {
    pub id: IdentityStoreId,
    /// The Identity Center home region, where the Identity Store API and the events live.
    pub region: Option<String>,
    /// The role (ARN) assumed for Identity Store and SSO admin calls, when the functions do
    /// not run in the Identity Center account (the management or delegated administrator
    /// account); `None`: the functions' own credentials.
    pub role: Option<String>,
}

/// The function's own account and region. The account comes from `WARDEN_ACCOUNT_ID` (the
/// stack sets it), the region from `AWS_REGION` (Lambda sets it); either may be unknown to a
/// tool that validates a policy, and then a policy that places a domain elsewhere is refused
/// rather than guessed at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Home {
    pub account: Option<AccountId>,
    pub region: Option<String>,
}

impl Home {
    /// `WARDEN_ACCOUNT_ID`, and `AWS_REGION` (else `AWS_DEFAULT_REGION`), from `env`.
    pub fn from_lookup(env: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let account = match env("WARDEN_ACCOUNT_ID").filter(|a| !a.trim().is_empty()) {
            None => None,
            Some(a) => {
                Some(AccountId::parse(a.trim()).map_err(|e| format!("WARDEN_ACCOUNT_ID: {e}"))?)
            }
        };
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .filter(|r| is_region(r));
        Ok(Self { account, region })
    }
}

/// Where a domain outside the function's own account and region lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Place {
    pub account: AccountId,
    pub region: String,
}

impl std::fmt::Display for Place {
    /// `<account>#<region>`: also the message group of the domain's work on the queue.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.account, self.region)
    }
}

/// The role assumed in a domain's account when the policy names none: the spoke stack's.
pub const DEFAULT_SPOKE_ROLE: &str = "studio-warden-spoke";
/// The session name of every assumed role (CloudTrail shows it in the spoke).
pub const ROLE_SESSION_NAME: &str = "studio-warden";

/// The AWS partition of a region: `aws`, `aws-cn`, `aws-us-gov`.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    /// The local name mappings refer to.
    pub name: String,
    /// The domain's identity: its `d-...` id and, for a domain elsewhere, its place.
    pub id: DomainId,
    /// Where the domain lives; `None`: the function's own account and region.
    pub place: Option<Place>,
    /// The role (ARN) assumed to reach the domain; `None`: the function's own credentials.
    pub role: Option<String>,
    /// The secure network baseline the drift checks hold the domain to; `None`: no drift checks.
    pub baseline: Option<Baseline>,
}

impl Domain {
    /// Whether an event from `account` and `region` (its envelope's) is about this domain's
    /// place. An unknown own account (no `WARDEN_ACCOUNT_ID`) matches any account: the
    /// single-account stack receives only its own account's events.
    pub fn is_at(&self, home: &Home, account: Option<&str>, region: Option<&str>) -> bool {
        let (want_account, want_region) = match &self.place {
            Some(p) => (Some(p.account.as_str()), Some(p.region.as_str())),
            None => (
                home.account.as_ref().map(AccountId::as_str),
                home.region.as_deref(),
            ),
        };
        let same = |want: Option<&str>, got: Option<&str>| match (want, got) {
            (Some(w), Some(g)) => w == g,
            // Unknown on either side: only the function's own place may be assumed.
            _ => self.place.is_none(),
        };
        same(want_account, account) && same(want_region, region)
    }

    /// The message group of this domain's work on the queue: its account and region, so that
    /// work in one account is serial (its throttle) and across accounts parallel.
    pub fn message_group(&self, home: &Home) -> String {
        match &self.place {
            Some(p) => p.to_string(),
            None => format!(
                "{}#{}",
                home.account.as_ref().map_or("self", AccountId::as_str),
                home.region.as_deref().unwrap_or("home")
            ),
        }
    }
}

/// How a mapping names its group: by id, or by display name resolved at run time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupRef {
    Id(GroupId),
    DisplayName(String),
}

impl std::fmt::Display for GroupRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupRef::Id(id) => write!(f, "group id {id}"),
            GroupRef::DisplayName(name) => write!(f, "group {name:?}"),
        }
    }
}

/// One group's settings in one domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// Position in the file (0-based), a stable handle for logs and the ledger.
    pub index: usize,
    pub group: GroupRef,
    /// The domain's local name (validated to exist).
    pub domain: String,
    /// Higher wins when a user's groups map to the same domain.
    pub priority: i64,
    pub template: ProfileTemplate,
    /// [`crate::template::template_hash`] of `template`, computed once when the policy is loaded:
    /// the ledger keeps it to notice a changed mapping without describing the profile.
    pub template_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offboarding {
    /// How long a user who lost every entitlement to a domain keeps the profile; rejoining
    /// within it cancels the offboarding.
    pub grace_period: Duration,
    /// How long a suspended user's data (profile, private spaces) is kept after the suspension
    /// before it is deleted; rejoining within it restores the user. Not used with
    /// [`Removal::Apps`], which never deletes data.
    pub retention: Duration,
    /// What offboarding removes.
    pub remove: Removal,
    /// What offboarding does with the shared spaces a leaving user owns.
    pub shared_spaces: SharedSpaces,
    /// The deletion threshold: a run that would start more grace periods or offboardings
    /// than this starts none and records a hold for an operator to approve.
    pub max_per_run: u32,
    /// The same threshold as a percentage of a domain's managed profiles (for runs of at
    /// least [`MIN_PERCENT_COUNT`] users); 100 switches it off.
    pub max_percent: u32,
    /// When true, sweeps and events plan and record but never change SageMaker.
    pub dry_run: bool,
}

/// What offboarding does with the shared spaces a leaving user owns. SageMaker deletes no
/// profile that owns a space, private or shared, and a shared space holds other people's work
/// too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SharedSpaces {
    /// Keep them: the user's access is removed, the profile stays (SageMaker will not delete
    /// it), the ledger shows the offboarding blocked with the spaces named, and an alert asks
    /// an operator to move the work and delete the spaces (or to switch to `delete`).
    #[default]
    Keep,
    /// Delete them (their apps first) before the profile, like private spaces.
    Delete,
}

/// Runs smaller than this never trip the percentage threshold: one leaver of a three-person
/// domain is a third of it, not a mass deletion.
pub const MIN_PERCENT_COUNT: usize = 3;

/// What offboarding removes. Either way the user is first suspended when the grace period is
/// over: the user's apps and the apps in the user's private spaces deleted, the SSO assignment
/// removed, the profile tagged suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Removal {
    /// Everything, in two stages: the suspension, then, once the retention has passed, the
    /// private spaces the user owns (their EBS volumes with them), the shared ones as
    /// [`SharedSpaces`] says, then the profile. SageMaker itself keeps the user's directory on
    /// the domain's EFS volume after the profile is deleted.
    Profile,
    /// Only the suspension: the profile, its private spaces and all home directories are kept
    /// for ever (until the user rejoins), for an administrator to archive.
    Apps,
}

impl Offboarding {
    /// How long a suspended user's data is kept before it is deleted; `None`: for ever
    /// (`remove = "apps"`).
    pub fn data_retention(&self) -> Option<Duration> {
        (self.remove == Removal::Profile).then_some(self.retention)
    }
}

impl Default for Offboarding {
    fn default() -> Self {
        Self {
            grace_period: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(30 * 24 * 3600),
            remove: Removal::Profile,
            shared_spaces: SharedSpaces::Keep,
            max_per_run: 10,
            max_percent: 25,
            dry_run: false,
        }
    }
}

impl Policy {
    /// Parses and validates a policy. `origin` names the file in error messages.
    /// `domain_ids` supplies ids for domains the file names without one (the deployment's
    /// `WARDEN_DOMAIN_IDS`, for stacks that create the domain).
    pub fn parse(
        source: &str,
        origin: &str,
        domain_ids: &BTreeMap<String, String>,
    ) -> Result<Policy, PolicyError> {
        Self::parse_at(source, origin, domain_ids, &Home::default())
    }

    /// As [`Policy::parse`], for a function whose own account and region are `home`: a
    /// domain in another account or region is placed there, and one naming the function's own
    /// account and region is the same domain as one naming neither.
    pub fn parse_at(
        source: &str,
        origin: &str,
        domain_ids: &BTreeMap<String, String>,
        home: &Home,
    ) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = toml::from_str(source).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_col(source, s.start))
                .unwrap_or((1, 1));
            PolicyError::Invalid {
                origin: origin.to_owned(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        Validator {
            source,
            origin,
            home,
        }
        .validate(raw, domain_ids)
    }

    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.name == name)
    }

    pub fn domain_by_id(&self, id: &DomainId) -> Option<&Domain> {
        self.domains.iter().find(|d| &d.id == id)
    }

    /// The domain SageMaker calls `id` in the account and region an event came from (its
    /// envelope's `account` and `region`): a domain of the same `d-...` in another place is
    /// not it.
    pub fn domain_at(
        &self,
        id: &DomainId,
        account: Option<&str>,
        region: Option<&str>,
    ) -> Option<&Domain> {
        self.domains
            .iter()
            .find(|d| d.id.as_str() == id.as_str() && d.is_at(&self.home, account, region))
    }

    /// The mappings that send users to the given domain, highest priority first.
    pub fn mappings_for<'a>(&'a self, domain: &'a str) -> impl Iterator<Item = &'a Mapping> + 'a {
        self.mappings.iter().filter(move |m| m.domain == domain)
    }
}

/// 1-based line and column of a byte offset.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    identity_store: RawIdentityStore,
    #[serde(default)]
    domains: Vec<RawDomain>,
    #[serde(default)]
    mappings: Vec<RawMapping>,
    #[serde(default)]
    offboarding: Option<RawOffboarding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentityStore {
    id: Spanned<String>,
    region: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    name: Spanned<String>,
    id: Option<Spanned<String>>,
    account: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    baseline: Option<RawBaseline>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    group: Option<Spanned<String>>,
    group_id: Option<Spanned<String>>,
    domain: Spanned<String>,
    priority: Spanned<i64>,
    execution_role: Spanned<String>,
    #[serde(default)]
    security_groups: Vec<Spanned<String>>,
    #[serde(default)]
    tags: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    apps: RawApps,
    private_space: Option<RawPrivateSpace>,
}

/// `[mappings.private_space]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrivateSpace {
    display_name: Option<Spanned<String>>,
    ebs_size_gb: Option<Spanned<i64>>,
}

/// One of `*_custom_images`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustomImage {
    image_name: Spanned<String>,
    app_image_config_name: Spanned<String>,
    image_version_number: Option<Spanned<i64>>,
}

/// `[mappings.apps]`, with positions for the SageMaker constraints' errors.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApps {
    default_landing_uri: Option<Spanned<String>>,
    jupyterlab_instance_type: Option<Spanned<String>>,
    #[serde(default)]
    jupyterlab_lifecycle_config_arns: Vec<Spanned<String>>,
    code_editor_instance_type: Option<Spanned<String>>,
    jupyterlab_idle_timeout_minutes: Option<Spanned<i64>>,
    jupyterlab_min_idle_timeout_minutes: Option<Spanned<i64>>,
    jupyterlab_max_idle_timeout_minutes: Option<Spanned<i64>>,
    jupyterlab_default_lifecycle_config_arn: Option<Spanned<String>>,
    jupyterlab_image_arn: Option<Spanned<String>>,
    #[serde(default)]
    jupyterlab_custom_images: Vec<RawCustomImage>,
    code_editor_idle_timeout_minutes: Option<Spanned<i64>>,
    code_editor_min_idle_timeout_minutes: Option<Spanned<i64>>,
    code_editor_max_idle_timeout_minutes: Option<Spanned<i64>>,
    code_editor_default_lifecycle_config_arn: Option<Spanned<String>>,
    code_editor_image_arn: Option<Spanned<String>>,
    #[serde(default)]
    code_editor_lifecycle_config_arns: Vec<Spanned<String>>,
    #[serde(default)]
    code_editor_custom_images: Vec<RawCustomImage>,
    #[serde(default)]
    hidden_instance_types: Vec<Spanned<String>>,
}

/// The settings of one app type, as `[mappings.apps]` writes them (`jupyterlab_*` or
/// `code_editor_*`), for the checks that span several keys.
struct RawAppType<'a> {
    /// `jupyterlab` or `code_editor`: the keys' prefix.
    prefix: &'static str,
    instance_type: &'a Option<Spanned<String>>,
    idle_timeout: &'a Option<Spanned<i64>>,
    min_idle_timeout: &'a Option<Spanned<i64>>,
    max_idle_timeout: &'a Option<Spanned<i64>>,
    default_lifecycle_config_arn: &'a Option<Spanned<String>>,
    image_arn: &'a Option<Spanned<String>>,
    lifecycle_config_arns: &'a [Spanned<String>],
    custom_images: &'a [RawCustomImage],
}

impl RawApps {
    fn jupyterlab(&self) -> RawAppType<'_> {
        RawAppType {
            prefix: "jupyterlab",
            instance_type: &self.jupyterlab_instance_type,
            idle_timeout: &self.jupyterlab_idle_timeout_minutes,
            min_idle_timeout: &self.jupyterlab_min_idle_timeout_minutes,
            max_idle_timeout: &self.jupyterlab_max_idle_timeout_minutes,
            default_lifecycle_config_arn: &self.jupyterlab_default_lifecycle_config_arn,
            image_arn: &self.jupyterlab_image_arn,
            // Kept in AppDefaults::jupyterlab_lifecycle_config_arns, where they were first.
            lifecycle_config_arns: &[],
            custom_images: &self.jupyterlab_custom_images,
        }
    }

    fn code_editor(&self) -> RawAppType<'_> {
        RawAppType {
            prefix: "code_editor",
            instance_type: &self.code_editor_instance_type,
            idle_timeout: &self.code_editor_idle_timeout_minutes,
            min_idle_timeout: &self.code_editor_min_idle_timeout_minutes,
            max_idle_timeout: &self.code_editor_max_idle_timeout_minutes,
            default_lifecycle_config_arn: &self.code_editor_default_lifecycle_config_arn,
            image_arn: &self.code_editor_image_arn,
            lifecycle_config_arns: &self.code_editor_lifecycle_config_arns,
            custom_images: &self.code_editor_custom_images,
        }
    }

    /// The settings, once every value has passed the SageMaker constraints (so that the
    /// numbers fit an `i32`, whose range holds every bound the model sets).
    fn settings(&self) -> AppDefaults {
        let text = |v: &Option<Spanned<String>>| v.as_ref().map(|v| v.get_ref().clone());
        fn texts(v: &[Spanned<String>]) -> Vec<String> {
            v.iter().map(|v| v.get_ref().clone()).collect()
        }
        AppDefaults {
            default_landing_uri: text(&self.default_landing_uri),
            jupyterlab_instance_type: text(&self.jupyterlab_instance_type),
            jupyterlab_lifecycle_config_arns: texts(&self.jupyterlab_lifecycle_config_arns),
            code_editor_instance_type: text(&self.code_editor_instance_type),
            jupyterlab: self.jupyterlab().settings(),
            code_editor: self.code_editor().settings(),
            hidden_instance_types: texts(&self.hidden_instance_types),
        }
    }
}

/// A number the constraints have bounded, as AWS's 32-bit integer; `i32::MAX` for one that
/// escaped them (never reached: the validation refuses it first).
fn as_i32(v: &Option<Spanned<i64>>) -> Option<i32> {
    v.as_ref()
        .map(|v| i32::try_from(*v.get_ref()).unwrap_or(i32::MAX))
}

impl RawAppType<'_> {
    fn settings(&self) -> AppTypeSettings {
        let text = |v: &Option<Spanned<String>>| v.as_ref().map(|v| v.get_ref().clone());
        let idle = IdleShutdown {
            timeout_minutes: as_i32(self.idle_timeout),
            min_timeout_minutes: as_i32(self.min_idle_timeout),
            max_timeout_minutes: as_i32(self.max_idle_timeout),
        };
        AppTypeSettings {
            idle: (idle != IdleShutdown::default()).then_some(idle),
            default_lifecycle_config_arn: text(self.default_lifecycle_config_arn),
            image_arn: text(self.image_arn),
            lifecycle_config_arns: self
                .lifecycle_config_arns
                .iter()
                .map(|v| v.get_ref().clone())
                .collect(),
            custom_images: self
                .custom_images
                .iter()
                .map(|c| CustomImage {
                    image_name: c.image_name.get_ref().clone(),
                    app_image_config_name: c.app_image_config_name.get_ref().clone(),
                    image_version_number: as_i32(&c.image_version_number),
                })
                .collect(),
        }
    }
}

impl RawPrivateSpace {
    fn settings(&self) -> PrivateSpace {
        PrivateSpace {
            display_name: self.display_name.as_ref().map(|v| v.get_ref().clone()),
            ebs_size_gb: as_i32(&self.ebs_size_gb),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffboarding {
    grace_period: Option<Spanned<String>>,
    retention: Option<Spanned<String>>,
    remove: Option<Spanned<String>>,
    shared_spaces: Option<Spanned<String>>,
    max_per_run: Option<Spanned<i64>>,
    max_percent: Option<Spanned<i64>>,
    #[serde(default)]
    dry_run: bool,
}

/// `SpaceDisplayName`'s maximum length (shape `NonEmptyString64`). Written here rather than in
/// `sagemaker-constraints.json` because the shape's pattern needs a look-ahead; the constraints
/// test (`tests/emulator/tests/test_policy_constraints.py`) holds this number to the model.
const SPACE_DISPLAY_NAME_MAX: usize = 64;

/// The tag keys studio-warden writes itself; a mapping may not set them.
pub const RESERVED_TAG_PREFIX: &str = "studio-warden:";

/// A mapping's tags at most: SageMaker takes 50 per profile, studio-warden adds its own.
const MAX_MAPPING_TAGS: usize = 40;

struct Validator<'a> {
    source: &'a str,
    origin: &'a str,
    home: &'a Home,
}

impl Validator<'_> {
    fn at<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> PolicyError {
        self.at_span(spanned.span(), message)
    }

    fn at_span(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> PolicyError {
        let (line, column) = line_col(self.source, span.start);
        PolicyError::Invalid {
            origin: self.origin.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn unlocated(&self, message: impl Into<String>) -> PolicyError {
        PolicyError::Unlocated {
            origin: self.origin.to_owned(),
            message: message.into(),
        }
    }

    /// A domain's place and the role that reaches it. A domain naming neither account nor
    /// region (or the function's own) is at home and reached with the function's own
    /// credentials unless it names a role; one in another account is reached through `role`,
    /// by default [`DEFAULT_SPOKE_ROLE`].
    fn place(
        &self,
        i: usize,
        d: &RawDomain,
    ) -> Result<(Option<Place>, Option<String>), PolicyError> {
        let account = match &d.account {
            None => None,
            Some(a) => Some(
                AccountId::parse(a.get_ref())
                    .map_err(|e| self.at(a, format!("domains[{i}].account: {e}")))?,
            ),
        };
        let region = match &d.region {
            None => None,
            Some(r) if is_region(r.get_ref()) => Some(r.get_ref().clone()),
            Some(r) => {
                return Err(self.at(
                    r,
                    format!(
                        "domains[{i}].region: {:?} is not an AWS region name (like eu-west-1)",
                        r.get_ref()
                    ),
                ));
            }
        };
        // A place must be compared with the function's own, so both must be known.
        if let (Some(a), None) = (&d.account, &self.home.account) {
            return Err(self.at(a, format!(
                "domains[{i}].account: the function's own account is unknown, so it cannot tell whether this is another account: set WARDEN_ACCOUNT_ID (the stack does)"
            )));
        }
        if let (Some(r), None) = (&d.region, &self.home.region) {
            return Err(self.at(
                r,
                format!(
                    "domains[{i}].region: the function's own region is unknown: set AWS_REGION"
                ),
            ));
        }
        let other_account = account.filter(|a| Some(a) != self.home.account.as_ref());
        let other_region = region.filter(|r| Some(r) != self.home.region.as_ref());
        let place = match (&other_account, &other_region) {
            (None, None) => None,
            _ => {
                let account = other_account.clone().or_else(|| self.home.account.clone());
                let region = other_region.clone().or_else(|| self.home.region.clone());
                match (account, region) {
                    (Some(account), Some(region)) => Some(Place { account, region }),
                    (None, _) => {
                        return Err(self.at(&d.name, format!(
                            "domains[{i}] is in another region: its ledger keys name the account, and the function's own account is unknown: set WARDEN_ACCOUNT_ID (the stack does)"
                        )));
                    }
                    (_, None) => {
                        return Err(self.at(&d.name, format!(
                            "domains[{i}] is in another account: the function's own region is unknown: set AWS_REGION or give region"
                        )));
                    }
                }
            }
        };
        let account_of_domain = place
            .as_ref()
            .map(|p| &p.account)
            .or(self.home.account.as_ref());
        let region_of_domain = place
            .as_ref()
            .map(|p| p.region.as_str())
            .or(self.home.region.as_deref());
        let role = match (&d.role, &other_account) {
            (Some(r), _) => Some(self.role(
                &format!("domains[{i}].role"),
                r,
                account_of_domain,
                region_of_domain,
            )?),
            (None, Some(account)) => Some(format!(
                "arn:{}:iam::{account}:role/{DEFAULT_SPOKE_ROLE}",
                partition_of(region_of_domain.unwrap_or_default())
            )),
            (None, None) => None,
        };
        Ok((place, role))
    }

    /// A role to assume, given as an ARN or a name: an ARN must be in `account` (a role in
    /// another account would reach the wrong account's resources); a name becomes the ARN of
    /// that role in `account`.
    fn role(
        &self,
        field: &str,
        raw: &Spanned<String>,
        account: Option<&AccountId>,
        region: Option<&str>,
    ) -> Result<String, PolicyError> {
        let value = raw.get_ref().trim();
        if value.starts_with("arn:") {
            if !is_role_arn(value) {
                return Err(self.at(raw, format!(
                    "{field}: {value:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/name)"
                )));
            }
            let in_account = value.split(':').nth(4).unwrap_or_default();
            if let Some(account) = account
                && in_account != account.as_str()
            {
                return Err(self.at(raw, format!(
                    "{field}: {value:?} is a role in account {in_account}, not in {account}, the account it must reach"
                )));
            }
            return Ok(value.to_owned());
        }
        let is_name = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !is_name {
            return Err(self.at(raw, format!(
                "{field}: {value:?} is neither a role ARN nor a role name (1-64 of letters, digits and +=,.@_-)"
            )));
        }
        let Some(account) = account else {
            return Err(self.at(raw, format!(
                "{field}: a role given by name needs the account it is in, and the function's own account is unknown: give the role's ARN or set WARDEN_ACCOUNT_ID"
            )));
        };
        Ok(format!(
            "arn:{}:iam::{account}:role/{value}",
            partition_of(region.unwrap_or_default())
        ))
    }

    fn validate(
        &self,
        raw: RawPolicy,
        domain_ids: &BTreeMap<String, String>,
    ) -> Result<Policy, PolicyError> {
        let store_id = IdentityStoreId::parse(raw.identity_store.id.get_ref())
            .map_err(|e| self.at(&raw.identity_store.id, format!("identity_store.id: {e}")))?;
        let region =
            match raw.identity_store.region {
                Some(r) if is_region(r.get_ref()) => Some(r.into_inner()),
                Some(r) => {
                    return Err(self.at(&r, format!(
                    "identity_store.region: {:?} is not an AWS region name (like us-east-1)",
                    r.get_ref()
                )));
                }
                None => None,
            };
        // The role is in the Identity Center account, which the policy does not otherwise
        // name: only its ARN says which account that is.
        let identity_role = match &raw.identity_store.role {
            None => None,
            Some(r) if !r.get_ref().trim().starts_with("arn:") => {
                return Err(self.at(r, format!(
                    "identity_store.role: {:?}: give the role's ARN (arn:aws:iam::<Identity Center account>:role/name)",
                    r.get_ref()
                )));
            }
            Some(r) => Some(self.role("identity_store.role", r, None, None)?),
        };

        if raw.domains.is_empty() {
            return Err(self.unlocated("at least one [[domains]] entry is required"));
        }
        let mut domains = Vec::with_capacity(raw.domains.len());
        let mut seen_names = BTreeSet::new();
        let mut seen_ids = BTreeSet::new();
        let mut domain_refs = BTreeMap::new();
        for (i, d) in raw.domains.iter().enumerate() {
            let name = d.name.get_ref();
            if !is_local_name(name) {
                return Err(self.at(&d.name, format!(
                    "domains[{i}].name: {name:?} must be 1-64 characters of letters, digits, '-' or '_'"
                )));
            }
            if !seen_names.insert(name.clone()) {
                return Err(self.at(
                    &d.name,
                    format!("domains[{i}].name: {name:?} is declared twice"),
                ));
            }
            let bare = match (&d.id, domain_ids.get(name)) {
                (Some(id), _) => DomainId::parse(id.get_ref())
                    .map_err(|e| self.at(id, format!("domains[{i}].id: {e}")))?,
                (None, Some(id)) => DomainId::parse(id).map_err(|e| {
                    self.at(
                        &d.name,
                        format!(
                            "domains[{i}]: WARDEN_DOMAIN_IDS gives {name:?} an invalid id: {e}"
                        ),
                    )
                })?,
                (None, None) => {
                    return Err(self.at(&d.name, format!(
                        "domains[{i}].id is missing and WARDEN_DOMAIN_IDS does not name {name:?}"
                    )));
                }
            };
            if bare.place().is_some() {
                return Err(self.at(
                    d.id.as_ref().unwrap_or(&d.name),
                    format!("domains[{i}].id: {bare} must be the bare d-... id; the place goes in account and region"),
                ));
            }
            let (place, role) = self.place(i, d)?;
            let id = match &place {
                None => bare,
                Some(p) => bare
                    .at(&p.account, &p.region)
                    .map_err(|e| self.at(&d.name, format!("domains[{i}]: {e}")))?,
            };
            domain_refs.insert(
                name.clone(),
                DomainRef {
                    field: match &d.id {
                        Some(_) => format!("domains[{i}].id"),
                        None => format!("domains[{i}].id (from WARDEN_DOMAIN_IDS)"),
                    },
                    id: Spanned::new(
                        d.id.as_ref().map_or(d.name.span(), Spanned::span),
                        id.as_str().to_owned(),
                    ),
                },
            );
            if !seen_ids.insert(id.clone()) {
                return Err(self.at(
                    &d.name,
                    format!(
                        "domains[{i}]: domain {} in {} is declared twice",
                        id.as_str(),
                        place.as_ref().map_or(
                            "the function's own account and region".to_owned(),
                            |p| format!("account {} region {}", p.account, p.region)
                        )
                    ),
                ));
            }
            let baseline = match &d.baseline {
                None => None,
                Some(raw) => Some(self.baseline(&format!("domains[{i}].baseline"), raw)?),
            };
            domains.push(Domain {
                name: name.clone(),
                id,
                place,
                role,
                baseline,
            });
        }

        let mut mappings = Vec::with_capacity(raw.mappings.len());
        let mut priorities: BTreeMap<(String, i64), usize> = BTreeMap::new();
        let mut pairs: BTreeMap<(GroupRef, String), usize> = BTreeMap::new();
        for (i, m) in raw.mappings.into_iter().enumerate() {
            let group = match (&m.group, &m.group_id) {
                (Some(name), None) => {
                    let n = name.get_ref().trim();
                    if n.is_empty() || n.len() > 1024 {
                        return Err(self.at(name, format!("mappings[{i}].group: a display name of 1-1024 characters is required")));
                    }
                    GroupRef::DisplayName(n.to_owned())
                }
                (None, Some(id)) => GroupRef::Id(
                    GroupId::parse(id.get_ref())
                        .map_err(|e| self.at(id, format!("mappings[{i}].group_id: {e}")))?,
                ),
                (Some(name), Some(_)) => {
                    return Err(self.at(
                        name,
                        format!("mappings[{i}]: set either group or group_id, not both"),
                    ));
                }
                (None, None) => {
                    return Err(self.at(
                        &m.domain,
                        format!("mappings[{i}]: group (display name) or group_id is required"),
                    ));
                }
            };
            let domain = m.domain.get_ref();
            if !seen_names.contains(domain) {
                return Err(self.at(
                    &m.domain,
                    format!(
                        "mappings[{i}].domain: {domain:?} is not a declared domain (declared: {})",
                        seen_names
                            .iter()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            let priority = *m.priority.get_ref();
            if let Some(other) = priorities.insert((domain.clone(), priority), i) {
                return Err(self.at(&m.priority, format!(
                    "mappings[{i}].priority: {priority} is also the priority of mappings[{other}] for domain {domain:?}; priorities must be unique per domain so that the winning mapping is never ambiguous"
                )));
            }
            if let Some(other) = pairs.insert((group.clone(), domain.clone()), i) {
                return Err(self.at(&m.domain, format!(
                    "mappings[{i}]: {group} is already mapped to domain {domain:?} by mappings[{other}]"
                )));
            }
            let role = m.execution_role.get_ref();
            if !is_role_arn(role) {
                return Err(self.at(&m.execution_role, format!(
                    "mappings[{i}].execution_role: {role:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/name)"
                )));
            }
            // SageMaker passes the execution role in the domain's account: for a domain
            // elsewhere, a role of another account is a mistake (and a way across accounts).
            if let Some(place) = domains
                .iter()
                .find(|d: &&Domain| &d.name == domain)
                .and_then(|d| d.place.as_ref())
                && role.split(':').nth(4) != Some(place.account.as_str())
            {
                return Err(self.at(&m.execution_role, format!(
                    "mappings[{i}].execution_role: {role:?} is not in account {}, where domain {domain:?} is",
                    place.account
                )));
            }
            let mut security_groups = Vec::with_capacity(m.security_groups.len());
            for sg in &m.security_groups {
                let id = SecurityGroupId::parse(sg.get_ref())
                    .map_err(|e| self.at(sg, format!("mappings[{i}].security_groups: {e}")))?;
                if security_groups.contains(&id) {
                    return Err(self.at(
                        sg,
                        format!("mappings[{i}].security_groups: {id} is listed twice"),
                    ));
                }
                security_groups.push(id);
            }
            let mut tags = BTreeMap::new();
            for (k, v) in &m.tags {
                let key = k.get_ref();
                if key.starts_with(RESERVED_TAG_PREFIX) {
                    return Err(self.at(k, format!("mappings[{i}].tags: key {key:?} is reserved: studio-warden writes the {RESERVED_TAG_PREFIX}* tags itself")));
                }
                tags.insert(key.clone(), v.get_ref().clone());
            }
            if let Some(first) = m.tags.keys().min_by_key(|k| k.span().start)
                && tags.len() > MAX_MAPPING_TAGS
            {
                return Err(self.at(first, format!("mappings[{i}].tags: at most {MAX_MAPPING_TAGS} tags (SageMaker allows 50, studio-warden keeps room for its own)")));
            }
            // What AWS would refuse in CreateUserProfile / UpdateUserProfile (lengths, patterns,
            // enums, list sizes, reserved aws: tag keys), from SageMaker's service model.
            if let Some(domain_ref) = domain_refs.get(domain) {
                self.sagemaker_constraints(&constraints::mapping_request(i, &m, domain_ref))?;
            }
            // What no single member's constraint says: idle timeouts in their own range, no
            // default instance type hidden from its user, numbers AWS's types can hold.
            self.app_settings(i, &m.apps)?;
            if let Some(space) = &m.private_space {
                self.private_space(i, space)?;
            }
            let template = ProfileTemplate {
                execution_role: role.clone(),
                security_groups,
                tags,
                apps: m.apps.settings(),
                private_space: m.private_space.as_ref().map(RawPrivateSpace::settings),
            };
            mappings.push(Mapping {
                index: i,
                group,
                domain: domain.clone(),
                priority,
                template_hash: crate::template::template_hash(&template),
                template,
            });
        }
        if mappings.is_empty() {
            return Err(self.unlocated("at least one [[mappings]] entry is required"));
        }
        mappings.sort_by(|a, b| a.domain.cmp(&b.domain).then(b.priority.cmp(&a.priority)));

        let offboarding = match raw.offboarding {
            None => Offboarding::default(),
            Some(o) => Offboarding {
                grace_period: match &o.grace_period {
                    None => Offboarding::default().grace_period,
                    Some(g) => humantime::parse_duration(g.get_ref()).map_err(|e| {
                        self.at(g, format!("offboarding.grace_period: {:?} is not a duration like \"24h\" or \"30m\": {e}", g.get_ref()))
                    })?,
                },
                retention: match &o.retention {
                    None => Offboarding::default().retention,
                    Some(r) => humantime::parse_duration(r.get_ref()).map_err(|e| {
                        self.at(r, format!("offboarding.retention: {:?} is not a duration like \"30d\" or \"720h\": {e}", r.get_ref()))
                    })?,
                },
                remove: match &o.remove {
                    None => Removal::Profile,
                    Some(r) => match r.get_ref().as_str() {
                        "profile" => Removal::Profile,
                        "apps" => Removal::Apps,
                        other => {
                            return Err(self.at(r, format!(
                                "offboarding.remove: {other:?} is not one of \"profile\" (apps, private spaces, assignment and profile) or \"apps\" (apps and assignment; the profile and its data are kept)"
                            )));
                        }
                    },
                },
                shared_spaces: match &o.shared_spaces {
                    None => SharedSpaces::Keep,
                    Some(v) => match v.get_ref().as_str() {
                        "keep" => SharedSpaces::Keep,
                        "delete" => SharedSpaces::Delete,
                        other => {
                            return Err(self.at(v, format!(
                                "offboarding.shared_spaces: {other:?} is not one of \"keep\" (the profile stays while it owns shared spaces; an operator is alerted) or \"delete\" (the user's shared spaces and their apps are deleted with the profile)"
                            )));
                        }
                    },
                },
                max_per_run: match &o.max_per_run {
                    None => Offboarding::default().max_per_run,
                    Some(n) => u32::try_from(*n.get_ref()).map_err(|_| {
                        self.at(n, format!("offboarding.max_per_run: {} is not a count of users (0 or more; 0 holds every deletion for approval)", n.get_ref()))
                    })?,
                },
                max_percent: match &o.max_percent {
                    None => Offboarding::default().max_percent,
                    Some(n) => match u32::try_from(*n.get_ref()) {
                        Ok(p) if (1..=100).contains(&p) => p,
                        _ => {
                            return Err(self.at(n, format!("offboarding.max_percent: {} is not a percentage from 1 to 100 (100 switches the percentage off)", n.get_ref())));
                        }
                    },
                },
                dry_run: o.dry_run,
            },
        };

        Ok(Policy {
            home: self.home.clone(),
            identity_store: IdentityStore {
                id: store_id,
                region,
                role: identity_role,
            },
            domains,
            mappings,
            offboarding,
        })
    }
}

impl Validator<'_> {
    /// The checks of `[mappings.apps]` that span several keys. The bounds of each value (idle
    /// timeouts of 60 to 525600 minutes, patterns, enums) are SageMaker's model's and were
    /// checked before, by [`Validator::sagemaker_constraints`].
    fn app_settings(&self, i: usize, apps: &RawApps) -> Result<(), PolicyError> {
        for app in [apps.jupyterlab(), apps.code_editor()] {
            let p = app.prefix;
            let (timeout, min, max) =
                (app.idle_timeout, app.min_idle_timeout, app.max_idle_timeout);
            if let (Some(min), Some(max)) = (min, max)
                && min.get_ref() > max.get_ref()
            {
                return Err(self.at(min, format!(
                    "mappings[{i}].apps.{p}_min_idle_timeout_minutes: {} is above {p}_max_idle_timeout_minutes ({}): the user could pick no timeout",
                    min.get_ref(), max.get_ref()
                )));
            }
            if let (Some(t), Some(min)) = (timeout, min)
                && t.get_ref() < min.get_ref()
            {
                return Err(self.at(t, format!(
                    "mappings[{i}].apps.{p}_idle_timeout_minutes: {} is below {p}_min_idle_timeout_minutes ({}): the default must lie within the range the user may choose from",
                    t.get_ref(), min.get_ref()
                )));
            }
            if let (Some(t), Some(max)) = (timeout, max)
                && t.get_ref() > max.get_ref()
            {
                return Err(self.at(t, format!(
                    "mappings[{i}].apps.{p}_idle_timeout_minutes: {} is above {p}_max_idle_timeout_minutes ({}): the default must lie within the range the user may choose from",
                    t.get_ref(), max.get_ref()
                )));
            }
            for (j, image) in app.custom_images.iter().enumerate() {
                if let Some(n) = &image.image_version_number
                    && i32::try_from(*n.get_ref()).is_err()
                {
                    return Err(self.at(n, format!(
                        "mappings[{i}].apps.{p}_custom_images[{j}].image_version_number: {} is not an image version SageMaker can hold (a 32-bit integer)",
                        n.get_ref()
                    )));
                }
            }
            if let Some(default) = app.instance_type
                && let Some(hidden) = apps
                    .hidden_instance_types
                    .iter()
                    .find(|h| h.get_ref() == default.get_ref())
            {
                return Err(self.at(hidden, format!(
                    "mappings[{i}].apps.hidden_instance_types: {:?} is {p}_instance_type, the default of the user's apps: hiding it would leave the default unselectable in Studio",
                    hidden.get_ref()
                )));
            }
        }
        Ok(())
    }

    fn private_space(&self, i: usize, space: &RawPrivateSpace) -> Result<(), PolicyError> {
        // The EBS size (5 to 16384 GB) was checked with the mapping's other members, from the
        // model. SpaceDisplayName is checked here: its shape, NonEmptyString64, is at most 64
        // characters matching `(?!\s*$).+` as a whole, which (Java's `.` stopping at line
        // terminators, `\s` being ASCII) means: no line terminator, and not only spaces.
        if let Some(name) = &space.display_name {
            let text = name.get_ref();
            if text
                .chars()
                .any(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
            {
                return Err(self.at(
                    name,
                    format!("mappings[{i}].private_space.display_name: a line break is not allowed (CreateSpace SpaceDisplayName, shape NonEmptyString64, pattern (?!\\s*$).+)"),
                ));
            }
            if text
                .chars()
                .all(|c| matches!(c, ' ' | '\t' | '\u{0B}' | '\u{0C}'))
            {
                return Err(self.at(
                    name,
                    format!("mappings[{i}].private_space.display_name: a name Studio can show is required (SageMaker refuses a blank SpaceDisplayName); leave the key out for none"),
                ));
            }
            let length = name.get_ref().chars().count();
            if length > SPACE_DISPLAY_NAME_MAX {
                return Err(self.at(
                    name,
                    format!("mappings[{i}].private_space.display_name: has {length} characters; SageMaker accepts at most {SPACE_DISPLAY_NAME_MAX} (CreateSpace SpaceDisplayName, shape NonEmptyString64)"),
                ));
            }
        }
        Ok(())
    }
}

fn is_local_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `arn:<partition>:iam::<12 digits>:role/<path and name>`
fn is_role_arn(s: &str) -> bool {
    let mut parts = s.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|name| {
            !name.is_empty()
                && name.len() <= 512
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
        })
}

mod baseline;
use baseline::RawBaseline;
pub use baseline::{Baseline, Exemption, REQUIRED_ENDPOINTS, RuleSetting};

mod constraints;
use constraints::DomainRef;

#[cfg(test)]
mod tests;
