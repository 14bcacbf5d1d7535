//! The drift rules' catalogue: every rule's id, default severity, what it checks and why, and
//! the severities. A leaf of the vocabulary: the policy validates rule names and severities
//! against it without depending on how the rules are evaluated.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Self::Info),
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule's id, default severity, what it checks and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    pub id: &'static str,
    pub severity: Severity,
    pub checks: &'static str,
    pub why: &'static str,
}

macro_rules! rules {
    ($(#[$doc:meta])* $list:ident: $($konst:ident = $id:literal, $sev:ident, $checks:literal, $why:literal;)*) => {
        $(pub const $konst: &str = $id;)*
        $(#[$doc])*
        pub const $list: &[RuleInfo] = &[
            $(RuleInfo { id: $id, severity: Severity::$sev, checks: $checks, why: $why },)*
        ];
    };
}

rules! {
    /// Every drift rule, in the order the README lists them.
    RULES:
    DOMAIN_NETWORK_ACCESS = "domain.network-access", Critical,
        "AppNetworkAccessType is the baseline's (VpcOnly by default)",
        "PublicInternetOnly sends every app's traffic through a SageMaker-managed internet path that bypasses the VPC's controls";
    DOMAIN_VPC = "domain.vpc", High,
        "the domain is in the baseline's vpc_id",
        "a domain in another VPC escapes the routing, endpoints and flow logs the platform set up";
    DOMAIN_SUBNETS = "domain.subnets", High,
        "every SubnetIds entry is one of the baseline's subnets",
        "an unapproved subnet may be public or lack the VPC endpoints";
    DOMAIN_SECURITY_GROUPS = "domain.security-groups", High,
        "the domain's, default user's and default space's security groups are approved (baseline security_groups plus the mappings')",
        "these groups apply to every app and space that does not set its own";
    DOMAIN_KMS_KEY = "domain.kms-key", High,
        "KmsKeyId is set (and is the baseline's kms_key_id when given)",
        "without a customer-managed key, EFS home directories and EBS volumes use an AWS-owned key you cannot audit or revoke";
    DOMAIN_AUTH_MODE = "domain.auth-mode", Medium,
        "AuthMode is the baseline's auth_mode",
        "IAM mode lets anyone with sagemaker:CreatePresignedDomainUrl open any profile; SSO ties sign-in to Identity Center";
    DOMAIN_DOCKER = "domain.docker", High,
        "DockerSettings.EnableDockerAccess is not ENABLED (unless docker_access = true)",
        "Docker access lets users build and run arbitrary images from inside Studio";
    DOMAIN_TRUSTED_ACCOUNTS = "domain.trusted-accounts", High,
        "DockerSettings.VpcOnlyTrustedAccounts names only accounts in vpc_only_trusted_accounts",
        "a trusted account's ECR images can be pulled into the VPC";
    DOMAIN_EXECUTION_ROLE = "domain.execution-role", Medium,
        "DefaultUserSettings.ExecutionRole is the baseline's execution_role",
        "profiles created outside studio-warden (and SSO first sign-ins) get this role";
    NET_SG_OPEN_INGRESS = "net.sg.open-ingress", Critical,
        "no security group in use (domain, defaults, profiles, approved) allows ingress from 0.0.0.0/0 or ::/0",
        "Studio apps hold credentials and data; nothing on the internet should reach them";
    NET_SG_EGRESS = "net.sg.egress", Medium,
        "every egress rule of a security group in use reaches only allowed_egress (CIDRs, prefix lists) or another security group",
        "open egress is the exfiltration path";
    NET_SUBNET_PUBLIC = "net.subnet.public", Critical,
        "the domain's subnets have no route to an internet gateway",
        "VpcOnly is only private if the subnets are";
    NET_ENDPOINTS = "net.endpoints", High,
        "an available interface endpoint with private DNS exists in the domain's VPC for sagemaker.api, sagemaker.runtime, sts and the baseline's endpoints",
        "without them a VpcOnly domain cannot reach SageMaker or STS privately, and calls fail or leave the VPC";
    PROFILE_TEMPLATE = "profile.template", High,
        "a managed profile's execution role and security groups are its mapping's",
        "a hand-edited role or group silently changes what a user can reach";
    PROFILE_SECURITY_GROUPS = "profile.security-groups", High,
        "every profile's security groups are approved",
        "a profile-level group overrides the domain's for that user's apps";
    PROFILE_STATUS = "profile.status", Medium,
        "no profile is Failed, Update_Failed or Delete_Failed",
        "a failed profile is stuck: its user cannot work, or it cannot be cleaned up";
    PROFILE_UNMANAGED = "profile.unmanaged", Low,
        "every profile is in studio-warden's ledger",
        "a profile made by hand is outside the group-based lifecycle and is never offboarded";
    PROFILE_OFFBOARDING_BLOCKED = "profile.offboarding-blocked", High,
        "no offboarding is blocked: a leaving user's profile owns no shared space the policy keeps, and SageMaker does not keep refusing to delete it",
        "the user's access is removed but the profile (and its spaces) stay until an operator moves the work and deletes the spaces, or sets [offboarding] shared_spaces = \"delete\"";
    PROFILE_SETTINGS_REJECTED = "profile.settings-rejected", High,
        "SageMaker accepted every managed profile's mapping settings (no ValidationException on UpdateUserProfile)",
        "the policy asks for settings AWS refuses: the profile keeps its old settings until the policy is fixed";
    PROFILE_ORPHAN = "profile.orphan", Low,
        "no managed profile belongs to a user who lost every entitlement (grace, offboarding, suspended)",
        "the profile outlives its user's access; it should be offboarded or the user re-entitled";
}

rules! {
    /// The safety net's rules: raised by the reconcile (not the drift checks) from what it found
    /// about the policy's groups and the deletions it holds back; alerted, reminded and resolved
    /// like drift findings, and switched off or exempted the same way.
    SAFETY_RULES:
    MAPPING_RENAMED = "mapping.renamed", Medium,
        "every display-name mapping's pinned group still has the policy's display name",
        "the group was renamed: studio-warden keeps using it by its pinned id, but the policy names a group that no longer exists under that name";
    MAPPING_MISSING = "mapping.missing", High,
        "every mapping's group (pinned, or by id) still exists",
        "the group was deleted: its members are held (no grace period, no offboarding) until an operator approves or changes the policy";
    MAPPING_UNRESOLVED = "mapping.unresolved", High,
        "every display-name mapping names a group that exists",
        "no group has the name: the mapping grants nothing, and leavers of the domain whose group is unknown are held";
    OFFBOARDING_HOLD = "offboarding.hold", Critical,
        "no grace period or offboarding waits for an operator (a hold: too many at once, or leavers whose group is in doubt)",
        "a mass deletion is more likely a directory incident than real leavers: nothing is deleted until an operator approves with {\"mode\":\"approve\",\"hold\":\"<id>\"} or discards the hold";
    MAPPING_CONFLICT = "mapping.conflict", Critical,
        "no display name resolves to another group than the one it was pinned to",
        "a re-created or renamed group took the name: neither group's members are offboarded until an operator decides";
}

/// Whether a rule is one of the reconcile's safety rules (the drift checks leave those alone).
pub fn is_safety_rule(id: &str) -> bool {
    SAFETY_RULES.iter().any(|r| r.id == id)
}

/// A rule's description.
pub fn info(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().chain(SAFETY_RULES).find(|r| r.id == id)
}
