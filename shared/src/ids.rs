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
    /// A SageMaker domain id such as `d-xxxxxxxxxxxx`.
    DomainId,
    "domain id",
    "expected d- followed by lowercase letters and digits (at most 63 characters)",
    |s| s.len() > 2
        && s.len() <= 63
        && s.starts_with("d-")
        && s[2..].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
);
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
    fn an_oversized_value_is_cut_in_the_error() {
        let err = UserId::parse(&"z".repeat(10_000)).expect_err("invalid");
        assert_eq!(err.value.len(), 80);
    }
}
