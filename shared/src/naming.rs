//! Profile names. A SageMaker user profile name must match `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`,
//! so user names such as `jane.doe@example.com` have to be mapped.
//!
//! The name is `<slug>-<hash>`: the slug keeps it readable (the user name, lowercased, with
//! every run of other characters turned into one `-`, cut to 54 characters); the hash is the first
//! 8 hex digits of SHA-256 of the *user id*, which keeps two users whose names fold to the same
//! slug (`jane.doe` and `Jane_Doe`) apart. It is deterministic, so two invocations racing to
//! create the same user's profile pick the same name and SageMaker's `ResourceInUse` settles the
//! race. It is computed once, when the profile is created, and kept in the ledger: a rename of the
//! user never renames the profile. If two users ever met on one name (a 32-bit hash collision on
//! top of the same slug), or if somebody made a profile by hand under a user's name, the creation
//! finds a profile whose ownership tag does not name this user: studio-warden leaves it alone
//! and takes the user's next deterministic alternative name ([`profile_names`]), the same
//! `<slug>-<hash>` form with the hash of the user id and the alternative's number.

use sha2::{Digest, Sha256};

use crate::ids::{ResourceName, UserId};

/// The longest slug: 63 characters in all, less `-` and 8 hex digits.
pub const MAX_SLUG: usize = 63 - 9;

/// The readable part of a profile name.
pub fn slug(user_name: &str) -> String {
    let mut out = String::with_capacity(user_name.len().min(MAX_SLUG));
    let mut pending_dash = false;
    for c in user_name.chars() {
        if c.is_ascii_alphanumeric() {
            let dash = pending_dash && !out.is_empty();
            if out.len() + usize::from(dash) + 1 > MAX_SLUG {
                break;
            }
            if dash {
                out.push('-');
            }
            pending_dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "user".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// How many alternative names a user can get when names are held by profiles not theirs.
pub const ALTERNATIVES: u32 = 3;

/// The profile name studio-warden gives a new profile for this user.
pub fn profile_name(user_name: &str, user_id: &UserId) -> ResourceName {
    named(user_name, user_id.as_str())
}

/// The names a new profile of this user may take, in order: [`profile_name`], then
/// [`ALTERNATIVES`] alternatives for names held by profiles that are not this user's. Every
/// invocation walks the same sequence, so racing creations still meet on one name.
pub fn profile_names(user_name: &str, user_id: &UserId) -> Vec<ResourceName> {
    std::iter::once(profile_name(user_name, user_id))
        .chain((1..=ALTERNATIVES).map(|n| named(user_name, &format!("{}#{n}", user_id.as_str()))))
        .collect()
}

/// `<slug>-<first 8 hex digits of SHA-256(seed)>`.
fn named(user_name: &str, seed: &str) -> ResourceName {
    let digest = Sha256::digest(seed.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let name = format!("{}-{hash}", slug(user_name));
    // The slug is ASCII alphanumerics with single inner dashes, at most 54 characters, and the
    // hash is 8 hex digits: the result always matches the SageMaker pattern (property-tested
    // below, and checked again in debug builds).
    ResourceName::trusted(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uid(n: u32) -> UserId {
        UserId::parse(&format!("9067c0ffee-{n:08x}-0000-4000-8000-000000000001")).expect("valid id")
    }

    #[test]
    fn emails_and_odd_names_become_readable_slugs() {
        assert_eq!(slug("jane.doe@example.com"), "jane-doe-example-com");
        assert_eq!(slug("Jane_Doe"), "jane-doe");
        assert_eq!(slug("  --Ørjan..Ås-- "), "rjan-s");
        assert_eq!(slug("@@@"), "user");
        assert_eq!(slug(""), "user");
    }

    #[test]
    fn names_carry_a_hash_of_the_user_id() {
        let a = profile_name("jane.doe", &uid(1));
        let b = profile_name("Jane_Doe", &uid(2));
        assert!(a.as_str().starts_with("jane-doe-"));
        assert_ne!(a, b, "same slug, different users, different names");
        assert_eq!(a, profile_name("jane.doe", &uid(1)), "deterministic");
    }

    #[test]
    fn long_names_are_cut_to_the_limit() {
        let name = profile_name(&"x".repeat(500), &uid(3));
        assert_eq!(name.as_str().len(), 63);
    }

    #[test]
    fn alternatives_follow_the_first_name_and_are_distinct() {
        let names = profile_names("jane.doe", &uid(1));
        assert_eq!(names.len(), 1 + ALTERNATIVES as usize);
        assert_eq!(names[0], profile_name("jane.doe", &uid(1)));
        let distinct: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(distinct.len(), names.len());
        assert!(names.iter().all(|n| n.as_str().starts_with("jane-doe-")));
        assert_eq!(names, profile_names("jane.doe", &uid(1)), "deterministic");
    }

    proptest! {
        #[test]
        fn alternative_names_are_valid(user_name in ".{0,200}", n in any::<u32>()) {
            for name in profile_names(&user_name, &uid(n)) {
                prop_assert!(crate::ids::is_sagemaker_name(name.as_str()));
            }
        }

        #[test]
        fn every_user_name_maps_to_a_valid_name(user_name in ".{0,200}", n in any::<u32>()) {
            let name = profile_name(&user_name, &uid(n));
            prop_assert!(crate::ids::is_sagemaker_name(name.as_str()));
            prop_assert_eq!(&name, &profile_name(&user_name, &uid(n)));
        }

        #[test]
        fn distinct_users_get_distinct_names(user_name in "[a-z._@-]{0,60}", a in any::<u32>(), b in any::<u32>()) {
            prop_assume!(a != b);
            // Different ids hash apart (a collision in 32 bits is reported, not handled, see the
            // module docs; proptest would need ~65k cases per pair to find one).
            prop_assert_ne!(profile_name(&user_name, &uid(a)), profile_name(&user_name, &uid(b)));
        }
    }
}
