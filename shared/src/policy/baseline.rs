//! `[domains.baseline]`: the secure network baseline a domain is held to by the drift checks.
//!
//! ```toml
//! [[domains]]
//! name = "research"
//! id = "d-research00001"
//!
//! [domains.baseline]
//! network_access = "VpcOnly"                 # the default
//! vpc_id = "vpc-0a1b2c3d4e5f60001"
//! subnets = ["subnet-0a1b2c3d4e5f60001"]
//! security_groups = ["sg-0a1b2c3d4e5f60003"] # approved, besides every mapping's groups
//! kms_key_id = "arn:aws:kms:us-east-1:111122223333:key/..."
//! auth_mode = "SSO"
//! docker_access = false                      # the default
//! vpc_only_trusted_accounts = []
//! execution_role = "arn:aws:iam::111122223333:role/studio-default"
//! allowed_egress = ["10.0.0.0/16", "pl-63a5400a"]
//! endpoints = ["ecr.api"]                    # besides sagemaker.api, sagemaker.runtime, sts
//! reminder = "24h"
//! remediate = false
//! rules = { "profile.unmanaged" = { enabled = false }, "domain.auth-mode" = { severity = "high" } }
//!
//! [[domains.baseline.exemptions]]
//! rule = "net.sg.open-ingress"
//! resource = "sg-0a1b2c3d4e5f60009"
//! until = 2026-06-30
//! reason = "CHG-1234: vendor demo"
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{PolicyError, Validator, is_role_arn};
use crate::catalogue::{self as rules, Severity};
use crate::cidr::parse_cidr;
use crate::clock::Epoch;
use crate::ids::SecurityGroupId;

/// The interface endpoints every VpcOnly domain needs (SageMaker API and runtime, STS).
pub const REQUIRED_ENDPOINTS: &[&str] = &["sagemaker.api", "sagemaker.runtime", "sts"];

/// The validated baseline of one domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// `VpcOnly` (default) or `PublicInternetOnly`.
    pub network_access: String,
    pub vpc_id: Option<String>,
    /// Approved subnets; empty: not checked.
    pub subnets: Vec<String>,
    /// Approved security groups, besides those of the domain's mappings.
    pub security_groups: Vec<SecurityGroupId>,
    /// The customer-managed key the domain must use; `None`: any key, but one is required.
    pub kms_key_id: Option<String>,
    /// `IAM` or `SSO`; `None`: not checked.
    pub auth_mode: Option<String>,
    /// Whether Docker access may be enabled (default: no).
    pub docker_access: bool,
    /// Accounts `VpcOnlyTrustedAccounts` may name.
    pub vpc_only_trusted_accounts: Vec<String>,
    /// The domain's default execution role; `None`: not checked.
    pub execution_role: Option<String>,
    /// CIDRs (v4 or v6) and prefix-list ids egress rules may reach; `None`: not checked.
    /// Rules that reference a security group are always allowed.
    pub allowed_egress: Option<Vec<String>>,
    /// Interface endpoint services (`sagemaker.api`, ...): the required three plus the
    /// policy's, de-duplicated, in order.
    pub endpoints: Vec<String>,
    /// How often an open finding is alerted again.
    pub reminder: Duration,
    /// Opt-in remediation of the safe cases (a managed profile's settings restored).
    pub remediate: bool,
    /// Per-rule switches and severities, by rule id.
    pub rules: BTreeMap<String, RuleSetting>,
    pub exemptions: Vec<Exemption>,
}

/// A rule's switch and severity override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetting {
    pub enabled: bool,
    pub severity: Option<Severity>,
}

/// A rule not applied to one resource (or `*`) until a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    pub rule: String,
    pub resource: String,
    /// The exemption ends at this instant (a date means the end of that day, UTC).
    pub until: Epoch,
    pub reason: String,
}

impl Baseline {
    /// Whether a rule is switched on.
    pub fn enabled(&self, rule: &str) -> bool {
        self.rules.get(rule).is_none_or(|s| s.enabled)
    }

    /// A rule's severity: the policy's override, else the rule's default.
    pub fn severity(&self, rule: &str) -> Severity {
        self.rules
            .get(rule)
            .and_then(|s| s.severity)
            .or_else(|| rules::info(rule).map(|r| r.severity))
            .unwrap_or_default()
    }

    /// The exemption in force for a rule and resource at `now`, if any.
    pub fn exemption(&self, rule: &str, resource: &str, now: Epoch) -> Option<&Exemption> {
        self.exemptions.iter().find(|e| {
            e.rule == rule && (e.resource == resource || e.resource == "*") && now < e.until
        })
    }
}

impl Default for Baseline {
    fn default() -> Self {
        Self {
            network_access: "VpcOnly".into(),
            vpc_id: None,
            subnets: Vec::new(),
            security_groups: Vec::new(),
            kms_key_id: None,
            auth_mode: None,
            docker_access: false,
            vpc_only_trusted_accounts: Vec::new(),
            execution_role: None,
            allowed_egress: None,
            endpoints: REQUIRED_ENDPOINTS.iter().map(|s| (*s).to_owned()).collect(),
            reminder: Duration::from_secs(24 * 3600),
            remediate: false,
            rules: BTreeMap::new(),
            exemptions: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBaseline {
    network_access: Option<Spanned<String>>,
    vpc_id: Option<Spanned<String>>,
    #[serde(default)]
    subnets: Vec<Spanned<String>>,
    #[serde(default)]
    security_groups: Vec<Spanned<String>>,
    kms_key_id: Option<Spanned<String>>,
    auth_mode: Option<Spanned<String>>,
    #[serde(default)]
    docker_access: bool,
    #[serde(default)]
    vpc_only_trusted_accounts: Vec<Spanned<String>>,
    execution_role: Option<Spanned<String>>,
    allowed_egress: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    endpoints: Vec<Spanned<String>>,
    reminder: Option<Spanned<String>>,
    #[serde(default)]
    remediate: bool,
    #[serde(default)]
    rules: BTreeMap<Spanned<String>, RawRuleSetting>,
    #[serde(default)]
    exemptions: Vec<RawExemption>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSetting {
    enabled: Option<bool>,
    severity: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExemption {
    rule: Spanned<String>,
    resource: Spanned<String>,
    until: Spanned<toml::Value>,
    reason: Option<String>,
}

fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `2026-06-30` (the end of that day, UTC) or an RFC 3339 instant.
fn parse_until(value: &toml::Value) -> Option<Epoch> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        _ => return None,
    };
    if let Ok(t) =
        time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
    {
        return Some(t.unix_timestamp());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(&text, format).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() + 24 * 3600)
}

impl Validator<'_> {
    pub(super) fn baseline(&self, at: &str, raw: &RawBaseline) -> Result<Baseline, PolicyError> {
        let mut b = Baseline::default();
        if let Some(n) = &raw.network_access {
            match n.get_ref().as_str() {
                "VpcOnly" | "PublicInternetOnly" => b.network_access = n.get_ref().clone(),
                other => {
                    return Err(self.at(n, format!(
                        "{at}.network_access: {other:?} is not \"VpcOnly\" or \"PublicInternetOnly\""
                    )));
                }
            }
        }
        if let Some(v) = &raw.vpc_id {
            if !is_aws_id(v.get_ref(), "vpc-") {
                return Err(self.at(
                    v,
                    format!(
                        "{at}.vpc_id: {:?} is not a VPC id (vpc- and 8 or 17 hex digits)",
                        v.get_ref()
                    ),
                ));
            }
            b.vpc_id = Some(v.get_ref().clone());
        }
        for s in &raw.subnets {
            if !is_aws_id(s.get_ref(), "subnet-") {
                return Err(self.at(
                    s,
                    format!(
                        "{at}.subnets: {:?} is not a subnet id (subnet- and 8 or 17 hex digits)",
                        s.get_ref()
                    ),
                ));
            }
            if !b.subnets.contains(s.get_ref()) {
                b.subnets.push(s.get_ref().clone());
            }
        }
        for sg in &raw.security_groups {
            let id = SecurityGroupId::parse(sg.get_ref())
                .map_err(|e| self.at(sg, format!("{at}.security_groups: {e}")))?;
            if !b.security_groups.contains(&id) {
                b.security_groups.push(id);
            }
        }
        if let Some(k) = &raw.kms_key_id {
            let key = k.get_ref();
            if key.is_empty() || key.len() > 2048 || key.chars().any(char::is_whitespace) {
                return Err(self.at(
                    k,
                    format!("{at}.kms_key_id: {key:?} is not a KMS key id or ARN"),
                ));
            }
            b.kms_key_id = Some(key.clone());
        }
        if let Some(m) = &raw.auth_mode {
            match m.get_ref().as_str() {
                "IAM" | "SSO" => b.auth_mode = Some(m.get_ref().clone()),
                other => {
                    return Err(self.at(
                        m,
                        format!("{at}.auth_mode: {other:?} is not \"IAM\" or \"SSO\""),
                    ));
                }
            }
        }
        b.docker_access = raw.docker_access;
        for a in &raw.vpc_only_trusted_accounts {
            if !is_account(a.get_ref()) {
                return Err(self.at(
                    a,
                    format!(
                        "{at}.vpc_only_trusted_accounts: {:?} is not a 12-digit account id",
                        a.get_ref()
                    ),
                ));
            }
            b.vpc_only_trusted_accounts.push(a.get_ref().clone());
        }
        if let Some(r) = &raw.execution_role {
            if !is_role_arn(r.get_ref()) {
                return Err(self.at(r, format!(
                    "{at}.execution_role: {:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/name)",
                    r.get_ref()
                )));
            }
            b.execution_role = Some(r.get_ref().clone());
        }
        if let Some(list) = &raw.allowed_egress {
            let mut out = Vec::new();
            for e in list {
                let v = e.get_ref();
                if parse_cidr(v).is_none() && !is_aws_id(v, "pl-") {
                    return Err(self.at(e, format!(
                        "{at}.allowed_egress: {v:?} is neither a CIDR (10.0.0.0/16, ::/0) nor a prefix list id (pl-...)"
                    )));
                }
                out.push(v.clone());
            }
            b.allowed_egress = Some(out);
        }
        for e in &raw.endpoints {
            let v = e.get_ref();
            let ok = !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-'
                })
                && !v.starts_with("com.");
            if !ok {
                return Err(self.at(e, format!(
                    "{at}.endpoints: {v:?} is not a service suffix like \"ecr.api\" (without com.amazonaws.<region>.)"
                )));
            }
            if !b.endpoints.contains(v) {
                b.endpoints.push(v.clone());
            }
        }
        if let Some(r) = &raw.reminder {
            let d = humantime::parse_duration(r.get_ref()).map_err(|e| {
                self.at(
                    r,
                    format!(
                        "{at}.reminder: {:?} is not a duration like \"24h\": {e}",
                        r.get_ref()
                    ),
                )
            })?;
            if d < Duration::from_secs(60) {
                return Err(self.at(r, format!("{at}.reminder: at least one minute")));
            }
            b.reminder = d;
        }
        b.remediate = raw.remediate;
        for (id, setting) in &raw.rules {
            let rule = id.get_ref();
            if rules::info(rule).is_none() {
                return Err(self.at(
                    id,
                    format!(
                        "{at}.rules: {rule:?} is not a rule id (known: {})",
                        rules::RULES
                            .iter()
                            .map(|r| r.id)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            let severity = match &setting.severity {
                None => None,
                Some(s) => Some(Severity::parse(s.get_ref()).ok_or_else(|| {
                    self.at(s, format!(
                        "{at}.rules.{rule}.severity: {:?} is not one of critical, high, medium, low, info",
                        s.get_ref()
                    ))
                })?),
            };
            b.rules.insert(
                rule.clone(),
                RuleSetting {
                    enabled: setting.enabled.unwrap_or(true),
                    severity,
                },
            );
        }
        for (j, e) in raw.exemptions.iter().enumerate() {
            let rule = e.rule.get_ref();
            if rules::info(rule).is_none() {
                return Err(self.at(
                    &e.rule,
                    format!("{at}.exemptions[{j}].rule: {rule:?} is not a rule id"),
                ));
            }
            let resource = e.resource.get_ref().trim();
            if resource.is_empty() || resource.len() > 256 {
                return Err(self.at(
                    &e.resource,
                    format!(
                        "{at}.exemptions[{j}].resource: 1-256 characters (a resource id, or \"*\")"
                    ),
                ));
            }
            let until = parse_until(e.until.get_ref()).ok_or_else(|| {
                self.at(&e.until, format!(
                    "{at}.exemptions[{j}].until: a date (2026-06-30) or an RFC 3339 instant is required"
                ))
            })?;
            b.exemptions.push(Exemption {
                rule: rule.clone(),
                resource: resource.to_owned(),
                until,
                reason: e.reason.clone().unwrap_or_default(),
            });
        }
        Ok(b)
    }
}
