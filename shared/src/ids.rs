//! Identifiers that cross the system boundary, validated once on the way in.
//!
//! Every id that reaches the core was checked against the pattern AWS documents for it, so a
//! hostile or malformed event cannot smuggle an odd string into an API call, a ledger key or a
//! log line.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid identifier of some kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?} is not valid: {rule}")]
pub struct InvalidId {
    pub kind: &'static str,
    /// The offending value, cut to 80 characters so that an oversized input stays loggable.
    pub value: String,
    pub rule: &'static str,
}

impl InvalidId {
    fn new(kind: &'static str, value: &str, rule: &'static str) -> Self {
        let value = value.chars().take(80).collect();
        Self { kind, value, rule }
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}`
fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && is_hex(p))
}

/// The Identity Store resource id pattern: `([0-9a-f]{10}-|)` followed by a UUID.
fn is_identity_store_resource_id(s: &str) -> bool {
    if s.len() > 47 {
        return false;
    }
    if is_uuid(s) {
        return true;
    }
    match s.split_once('-') {
        Some((prefix, rest)) => {
            prefix.len() == 10
                && prefix
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                && is_uuid(rest)
        }
        None => false,
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $rule:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                let check: fn(&str) -> bool = $check;
                if check(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(InvalidId::new($kind, value, $rule))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// For values built by code that guarantees the pattern (checked in debug builds).
            #[allow(dead_code)]
            pub(crate) fn trusted(value: String) -> Self {
                let check: fn(&str) -> bool = $check;
                debug_assert!(check(&value), "{} {:?} violates its pattern", $kind, value);
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, InvalidId> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// An Identity Store user id.
    UserId,
    "user id",
    "expected an Identity Store id: optional 10-hex prefix and a UUID",
    is_identity_store_resource_id
);
id_type!(
    /// An Identity Store group id.
    GroupId,
    "group id",
    "expected an Identity Store id: optional 10-hex prefix and a UUID",
    is_identity_store_resource_id
);
id_type!(
    /// An Identity Store group membership id.
    MembershipId,
    "membership id",
    "expected an Identity Store id: optional 10-hex prefix and a UUID",
    is_identity_store_resource_id
);
id_type!(
    /// An Identity Store id such as `d-1234567890` (or a UUID for some stores).
    IdentityStoreId,
    "identity store id",
    "expected d- followed by 10 lowercase hex digits, or a UUID",
    |s| (s.len() == 12
        && s.starts_with("d-")
        && s[2..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        || is_uuid(s)
);
id_type!(
    /// An AWS account id: 12 digits.
    AccountId,
    "account id",
    "expected 12 digits",
    |s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
);

/// SageMaker's domain id pattern, `d-` and lowercase letters and digits, at most 63 characters.
fn is_domain_id(s: &str) -> bool {
    s.len() > 2
        && s.len() <= 63
        && s.starts_with("d-")
        && s[2..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// An AWS region name such as `eu-west-1`: at least three hyphen-separated parts of lowercase
/// letters and digits, the last all digits.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && s.len() <= 32
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// A SageMaker domain, as studio-warden knows it: the domain id SageMaker gave it (`d-...`),
/// and, for a domain outside the function's own account and region, where it lives.
///
/// Two accounts' domain ids are unique only within their account and region, so the place is
/// part of the identity: `DomainId`s of the same `d-...` in two places are different, and the
/// ledger keys (the [`Display`](fmt::Display) form) differ. A domain in the function's own
/// account and region is written `d-...` alone, as before domains had places, so an existing
/// ledger keeps its keys; one elsewhere is written `d-...@<account>/<region>`.
/// [`DomainId::as_str`] is always the bare `d-...` that SageMaker's API takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainId {
    /// `d-...` or `d-...@<account>/<region>`.
    key: String,
    /// The length of the `d-...` part.
    id_len: usize,
}

impl DomainId {
    const RULE: &'static str = "expected d- followed by lowercase letters and digits (at most 63 characters), optionally @<12-digit account>/<region>";

    /// Parses `d-...` (a domain of the function's own account and region) or
    /// `d-...@<account>/<region>`.
    pub fn parse(value: &str) -> Result<Self, InvalidId> {
        let (id, place) = match value.split_once('@') {
            None => (value, None),
            Some((id, place)) => (id, Some(place)),
        };
        let placed = match place {
            None => true,
            Some(place) => place.split_once('/').is_some_and(|(account, region)| {
                AccountId::parse(account).is_ok() && is_region(region)
            }),
        };
        if is_domain_id(id) && placed {
            Ok(Self {
                key: value.to_owned(),
                id_len: id.len(),
            })
        } else {
            Err(InvalidId::new("domain id", value, Self::RULE))
        }
    }

    /// The domain `d-...` in another account or region.
    pub fn at(&self, account: &AccountId, region: &str) -> Result<Self, InvalidId> {
        Self::parse(&format!("{}@{account}/{region}", self.as_str()))
    }

    /// The bare SageMaker domain id, `d-...`: what the SageMaker API takes.
    pub fn as_str(&self) -> &str {
        &self.key[..self.id_len]
    }

    /// The account and region, for a domain outside the function's own; `None` for its own.
    pub fn place(&self) -> Option<(&str, &str)> {
        self.key[self.id_len..]
            .strip_prefix('@')
            .and_then(|p| p.split_once('/'))
    }

    /// The full identity, as in ledger keys: `d-...` or `d-...@<account>/<region>`.
    pub fn key(&self) -> &str {
        &self.key
    }

    #[allow(dead_code)]
    pub(crate) fn trusted(value: String) -> Self {
        let id_len = value.find('@').unwrap_or(value.len());
        debug_assert!(
            Self::parse(&value).is_ok(),
            "domain id {value:?} violates its pattern"
        );
        Self { key: value, id_len }
    }
}

impl fmt::Display for DomainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

impl TryFrom<String> for DomainId {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, InvalidId> {
        Self::parse(&value)
    }
}

impl From<DomainId> for String {
    fn from(value: DomainId) -> String {
        value.key
    }
}

impl AsRef<str> for DomainId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}
id_type!(
    /// A SageMaker user profile, space or app name: `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`.
    ResourceName,
    "resource name",
    "expected [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}: letters, digits and inner hyphens, at most 63 characters",
    is_sagemaker_name
);
id_type!(
    /// An EC2 security group id such as `sg-0123456789abcdef0`.
    SecurityGroupId,
    "security group id",
    "expected sg- followed by hex digits",
    |s| s.len() <= 32 && s.strip_prefix("sg-").is_some_and(is_hex)
);

/// `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`, at most 63 characters in all.
pub fn is_sagemaker_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_follow_the_identity_store_pattern() {
        assert!(UserId::parse("906750e5a1-4b1a2c3d-1111-2222-3333-444455556666").is_ok());
        assert!(UserId::parse("4b1a2c3d-1111-2222-3333-444455556666").is_ok());
        for bad in [
            "",
            "x",
            "906750e5a1-",
            "4b1a2c3d-1111-2222-3333-44445555666g",
            "a; rm -rf /",
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn resource_names_follow_the_sagemaker_pattern() {
        assert!(ResourceName::parse("jane-doe-1a2b3c4d").is_ok());
        assert!(ResourceName::parse("a--b").is_ok());
        assert!(ResourceName::parse(&"a".repeat(63)).is_ok());
        for bad in ["", "-a", "a-", "a_b", "a.b", &"a".repeat(64)] {
            assert!(ResourceName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ids_round_trip_through_serde_and_reject_bad_values() {
        let id: DomainId = serde_json::from_str("\"d-abc123\"").expect("valid");
        assert_eq!(
            serde_json::to_string(&id).expect("serialises"),
            "\"d-abc123\""
        );
        assert!(serde_json::from_str::<DomainId>("\"D-ABC\"").is_err());
        assert!(serde_json::from_str::<SecurityGroupId>("\"sg-0a1b\"").is_ok());
        assert!(serde_json::from_str::<SecurityGroupId>("\"sg-\"").is_err());
    }

    #[test]
    fn a_domain_elsewhere_carries_its_place_and_keeps_the_bare_id_for_the_api() {
        let home = DomainId::parse("d-abc123").expect("valid");
        assert_eq!(home.place(), None);
        assert_eq!(home.to_string(), "d-abc123");
        let b = AccountId::parse("222222222222").expect("valid");
        let there = home.at(&b, "eu-west-1").expect("valid");
        assert_eq!(there.as_str(), "d-abc123");
        assert_eq!(there.to_string(), "d-abc123@222222222222/eu-west-1");
        assert_eq!(there.place(), Some(("222222222222", "eu-west-1")));
        assert_ne!(there, home);
        let c = AccountId::parse("333333333333").expect("valid");
        assert_ne!(home.at(&c, "eu-west-1").expect("valid"), there);
        assert_ne!(home.at(&b, "us-east-1").expect("valid"), there);
        let round: DomainId =
            serde_json::from_str(&serde_json::to_string(&there).expect("serialises"))
                .expect("parses");
        assert_eq!(round, there);
        for bad in [
            "d-abc@",
            "d-abc@222222222222",
            "d-abc@22222222222/eu-west-1",
            "d-abc@222222222222/EU-west-1",
            "d-abc@222222222222/eu-west-1/x",
            "D-abc@222222222222/eu-west-1",
        ] {
            assert!(DomainId::parse(bad).is_err(), "{bad:?} accepted");
        }
        for region in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
        ] {
            assert!(is_region(region), "{region}");
        }
        for region in ["", "us", "us-east", "US-east-1", "us-east-1a", "us--1"] {
            assert!(!is_region(region), "{region}");
        }
    }

    #[test]
    fn an_oversized_value_is_cut_in_the_error() {
        let err = UserId::parse(&"z".repeat(10_000)).expect_err("invalid");
        assert_eq!(err.value.len(), 80);
    }
}
