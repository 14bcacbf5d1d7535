//! The drift checks' vocabulary: severities, what was observed (snapshots), and findings.
//! Plain data, no I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{DomainId, ResourceName, SecurityGroupId, UserId};
use crate::model::{Attention, DomainDescription, Epoch, ProfileStatus};

pub use crate::catalogue::Severity;

/// What `DescribeUserProfile` says about a profile's security settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileDetail {
    pub name: ResourceName,
    pub status: ProfileStatus,
    pub execution_role: Option<String>,
    pub security_groups: Vec<String>,
}

/// One rule of a security group, as EC2 describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SgRule {
    /// `-1` (all), `tcp`, `udp`, `icmp`, or a number.
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    /// One peer per entry: a CIDR (v4 or v6), a prefix list id or a security group id.
    pub peer: String,
}

impl fmt::Display for SgRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = if self.protocol == "-1" {
            "all"
        } else {
            &self.protocol
        };
        match (self.from_port, self.to_port) {
            (Some(a), Some(b)) if a == b && a >= 0 => write!(f, "{proto}/{a} {}", self.peer),
            (Some(a), Some(b)) if a >= 0 => write!(f, "{proto}/{a}-{b} {}", self.peer),
            _ => write!(f, "{proto} {}", self.peer),
        }
    }
}

/// A security group and its rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecurityGroupInfo {
    pub id: String,
    pub vpc_id: Option<String>,
    pub ingress: Vec<SgRule>,
    pub egress: Vec<SgRule>,
}

/// A subnet and the internet gateways its route table leads to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubnetInfo {
    pub id: String,
    pub vpc_id: Option<String>,
    /// The route table in effect (explicit association, else the VPC's main table).
    pub route_table: Option<String>,
    /// Routes to an internet gateway, as `destination -> igw-...`.
    pub internet_routes: Vec<String>,
}

/// A VPC endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EndpointInfo {
    pub id: String,
    pub vpc_id: String,
    /// e.g. `com.amazonaws.us-east-1.sagemaker.api`.
    pub service_name: String,
    /// `Interface`, `Gateway`, ...
    pub endpoint_type: String,
    /// `available`, `pending`, ...
    pub state: String,
    pub private_dns_enabled: bool,
}

/// Everything one check looked at, for one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// `None` when only profiles or security groups are checked (an event).
    pub domain: Option<DomainDescription>,
    /// The profiles checked, by name; a name mapped to `None` was looked for and is gone.
    pub profiles: BTreeMap<ResourceName, Option<ProfileDetail>>,
    /// Security groups in use, keyed by id; `None` when EC2 does not know the group.
    pub security_groups: BTreeMap<String, Option<SecurityGroupInfo>>,
    /// Subnets checked, keyed by id.
    pub subnets: BTreeMap<String, Option<SubnetInfo>>,
    /// Every endpoint of the domain's VPC; `None` when endpoints were not read.
    pub endpoints: Option<Vec<EndpointInfo>>,
    /// The region, for endpoint service names.
    pub region: String,
    /// The ledger's view of managed profiles: name -> what studio-warden knows.
    pub managed: BTreeMap<ResourceName, ManagedProfile>,
    /// Security groups the policy approves for this domain (baseline plus every mapping's).
    pub approved_security_groups: BTreeSet<SecurityGroupId>,
    /// Whether the snapshot covers the whole domain (a sweep), so that findings about
    /// resources that are gone can be resolved.
    pub full: bool,
}

/// What the ledger says about a managed profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagedProfile {
    /// The ledger phase (`Active`, `Grace`, ...).
    pub phase: String,
    /// The template the profile should have (the mapping whose fingerprint the ledger holds),
    /// or `None` when the policy changed since and the reconcile will update the profile.
    pub template: Option<ExpectedTemplate>,
    pub user: UserId,
    /// What the record says an operator must resolve (see [`crate::model::Attention`]).
    pub attention: Option<Attention>,
}

/// The settings a managed profile must keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedTemplate {
    /// Index of the mapping in the policy.
    pub mapping: usize,
    pub execution_role: String,
    pub security_groups: Vec<String>,
}

/// One rule broken by one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    /// The resource that breaks the rule: a domain id, `sg-...`, `subnet-...`, a profile
    /// name, `<vpc>/<service>` for endpoints, `<domain>/default-user` and the like.
    pub resource: String,
    pub severity: Severity,
    pub expected: String,
    pub actual: String,
    /// One sentence for people.
    pub message: String,
}

impl Finding {
    /// The stable id of a finding: rule and resource.
    pub fn key(&self) -> String {
        finding_key(&self.rule, &self.resource)
    }
}

/// `<rule>#<resource>`: the finding's stable id (and its ledger sort key).
pub fn finding_key(rule: &str, resource: &str) -> String {
    format!("{rule}#{resource}")
}

/// Whether a finding is open, resolved or exempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    Open,
    Resolved,
    Exempt,
}

impl FindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Exempt => "exempt",
        }
    }
}

/// A finding's state, as the ledger keeps it (`pk = FINDING#<domain>`, `sk = <rule>#<resource>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingState {
    pub domain: DomainId,
    pub rule: String,
    pub resource: String,
    pub severity: Severity,
    pub status: FindingStatus,
    pub expected: String,
    pub actual: String,
    pub message: String,
    pub first_seen: Epoch,
    pub last_seen: Epoch,
    /// When the last alert about this finding was queued (opened, reminder or resolved).
    pub last_alerted: Option<Epoch>,
    pub resolved_at: Option<Epoch>,
    /// For exempt findings: the end of the exemption.
    pub exempt_until: Option<Epoch>,
    /// Optimistic-concurrency version, as for user records.
    pub version: u64,
}

impl FindingState {
    pub fn key(&self) -> String {
        finding_key(&self.rule, &self.resource)
    }
}

/// An alert, ready for SNS: subject (< 100 characters), body (text, blank line, JSON) and
/// message attributes (`severity`, `domain`, `rule`, `event`) for subscription filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertMessage {
    pub subject: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
}
