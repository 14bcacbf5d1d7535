use std::collections::BTreeMap;

use super::*;
use crate::policy::{Policy, PolicyError};

/// A mapping that sets every field the policy maps to a SageMaker request member.
const FULL: &str = r#"
[identity_store]
id = "d-9067c0ffee"

[[domains]]
name = "research"
id = "d-research00001"

[[mappings]]
group = "ml-researchers"
domain = "research"
priority = 10
execution_role = "arn:aws:iam::111122223333:role/studio-research"
security_groups = ["sg-0a1b2c3d4e5f60001", "sg-0a1b2c3d4e5f60002"]
tags = { team = "research", cost-center = "cc-1042" }

[mappings.apps]
default_landing_uri = "studio::"
jupyterlab_instance_type = "ml.t3.medium"
jupyterlab_lifecycle_config_arns = ["arn:aws:sagemaker:us-east-1:111122223333:studio-lifecycle-config/install-tools"]
code_editor_instance_type = "ml.t3.large"
"#;

fn parse(src: &str) -> Result<Policy, PolicyError> {
    Policy::parse(src, "policy.toml", &BTreeMap::new())
}

/// `FULL` with one line replaced; the error's line and message.
fn refused(from: &str, to: &str) -> (usize, String) {
    assert!(FULL.contains(from), "{from}");
    match parse(&FULL.replacen(from, to, 1)) {
        Ok(_) => panic!("accepted: {to}"),
        Err(PolicyError::Invalid { line, message, .. }) => (line, message),
        Err(e @ PolicyError::Unlocated { .. }) => panic!("no line: {e}"),
    }
}

fn assert_refused(from: &str, to: &str, line: usize, field: &str, constraint: &str) {
    let (at, msg) = refused(from, to);
    assert_eq!(at, line, "{to}: {msg}");
    assert!(msg.starts_with(&format!("{field}: ")), "{to}: {msg}");
    assert!(msg.contains(constraint), "{to}: {msg}");
}

#[test]
fn the_constraints_file_loads_and_its_patterns_compile_for_a_full_match() {
    let model = model().expect("shared/sagemaker-constraints.json loads");
    assert_eq!(
        model.operations.keys().collect::<Vec<_>>(),
        ["CreateUserProfile", "UpdateUserProfile"]
    );
    let role = model.shapes["RoleArn"].pattern.as_ref().expect("pattern");
    assert!(role.regex.is_match("arn:aws:iam::111122223333:role/studio"));
    // Anchored as AWS matches: the whole value, not a part of it.
    assert!(
        !role
            .regex
            .is_match("x arn:aws:iam::111122223333:role/studio")
    );
    assert!(
        !role
            .regex
            .is_match("arn:aws:iam::111122223333:role/studio x")
    );
}

/// Every member `mapping_request` builds is in CreateUserProfile's input shape, with the same
/// kind (text, list, structure), so that no policy field goes unchecked by a typo here.
#[test]
fn every_member_a_mapping_sets_is_in_the_model() {
    fn walk(model: &Model, node: &Node<'_>, shape: &str, path: &str, seen: &mut Vec<String>) {
        let s = model
            .shapes
            .get(shape)
            .unwrap_or_else(|| panic!("{path}: no shape {shape}"));
        match &node.value {
            Value::Text(_) => assert_eq!(s.kind, Kind::String, "{path}"),
            Value::List(items) => {
                assert_eq!(s.kind, Kind::List, "{path}");
                let member = s.member.as_deref().expect("list member");
                for item in items {
                    walk(model, item, member, &format!("{path}.member"), seen);
                }
            }
            Value::Structure(members) => {
                assert_eq!(s.kind, Kind::Structure, "{path}");
                for (name, child) in members {
                    let child_shape = s
                        .members
                        .get(*name)
                        .unwrap_or_else(|| panic!("{path}: {shape} has no member {name}"));
                    let child_path = format!("{path}.{name}");
                    seen.push(child_path.clone());
                    walk(model, child, child_shape, &child_path, seen);
                }
            }
        }
    }
    let raw: super::super::RawPolicy = toml::from_str(FULL).expect("toml");
    let domain = DomainRef {
        field: "domains[0].id".into(),
        id: Spanned::new(0..1, "d-research00001".into()),
    };
    let request = mapping_request(0, &raw.mappings[0], &domain);
    let model = model().expect("model");
    let mut seen = Vec::new();
    walk(model, &request, "CreateUserProfileRequest", "", &mut seen);
    for member in [
        ".DomainId",
        ".Tags.member.Key",
        ".Tags.member.Value",
        ".UserSettings.ExecutionRole",
        ".UserSettings.SecurityGroups",
        ".UserSettings.DefaultLandingUri",
        ".UserSettings.JupyterLabAppSettings.DefaultResourceSpec.InstanceType",
        ".UserSettings.JupyterLabAppSettings.LifecycleConfigArns",
        ".UserSettings.CodeEditorAppSettings.DefaultResourceSpec.InstanceType",
    ] {
        assert!(seen.iter().any(|s| s == member), "{member} in {seen:?}");
    }
}

#[test]
fn a_policy_within_every_constraint_is_accepted() {
    let policy = parse(FULL).expect("valid");
    let apps = &policy.mappings[0].template.apps;
    assert_eq!(
        apps.jupyterlab_instance_type.as_deref(),
        Some("ml.t3.medium")
    );
    assert_eq!(apps.jupyterlab_lifecycle_config_arns.len(), 1);
    // Letters of any script, spaces and the model's punctuation; 128-character keys, 256-character
    // values (counted in characters, not bytes); five security groups.
    let key = "é".repeat(128);
    let value = "ü".repeat(256);
    parse(&FULL.replacen(
        "team = \"research\"",
        &format!("\"{key}\" = \"{value}\", name = \"Jane Doe: ML/AI +1 @lab = ok_.-\""),
        1,
    ))
    .expect("unicode tags within the limits");
    parse(&FULL.replacen(
        "\"sg-0a1b2c3d4e5f60002\"",
        "\"sg-02\", \"sg-03\", \"sg-04\", \"sg-05\"",
        1,
    ))
    .expect("five security groups");
}

// ----------------------------------------------------------- each refusal, with field and line

#[test]
fn a_tag_value_outside_the_tag_pattern_is_refused() {
    assert_refused(
        "team = \"research\"",
        "team = \"R&D\"",
        15,
        "mappings[0].tags.team",
        "\"R&D\" does not match SageMaker's pattern ([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)",
    );
}

#[test]
fn a_tag_key_outside_the_tag_pattern_is_refused() {
    assert_refused(
        "team = \"research\"",
        "\"team#1\" = \"research\"",
        15,
        "mappings[0].tags",
        "key \"team#1\" does not match",
    );
}

#[test]
fn a_tag_key_of_129_characters_is_refused() {
    let key = "k".repeat(129);
    assert_refused(
        "team = \"research\"",
        &format!("{key} = \"research\""),
        15,
        "mappings[0].tags",
        "has 129 characters; SageMaker accepts at most 128 (CreateUserProfile Tags.member.Key, shape TagKey)",
    );
}

#[test]
fn a_tag_value_of_257_characters_is_refused() {
    assert_refused(
        "team = \"research\"",
        &format!("team = \"{}\"", "v".repeat(257)),
        15,
        "mappings[0].tags.team",
        "has 257 characters; SageMaker accepts at most 256",
    );
}

#[test]
fn aws_prefixed_tag_keys_are_refused_in_any_case() {
    for key in ["aws:team", "AWS:team", "Aws:Team"] {
        assert_refused(
            "team = \"research\"",
            &format!("\"{key}\" = \"research\""),
            15,
            "mappings[0].tags",
            "a prefix AWS reserves for its own tags",
        );
    }
    // Only the prefix: aws elsewhere in a key is anybody's.
    parse(&FULL.replacen("team = ", "\"team-aws:x\" = ", 1)).expect("not a prefix");
}

#[test]
fn six_security_groups_are_refused_at_the_sixth() {
    let (line, msg) = refused(
        "security_groups = [\"sg-0a1b2c3d4e5f60001\", \"sg-0a1b2c3d4e5f60002\"]",
        "security_groups = [\n  \"sg-01\", \"sg-02\", \"sg-03\", \"sg-04\", \"sg-05\",\n  \"sg-06\",\n]",
    );
    assert_eq!(line, 16, "{msg}");
    assert!(
        msg.starts_with("mappings[0].security_groups: has 6 entries; SageMaker accepts at most 5"),
        "{msg}"
    );
}

#[test]
fn instance_types_outside_the_enum_are_refused() {
    let (line, msg) = refused("\"ml.t3.medium\"", "\"ml.t3.huge\"");
    assert_eq!(line, 19, "{msg}");
    assert!(
        msg.starts_with("mappings[0].apps.jupyterlab_instance_type: \"ml.t3.huge\" is not one of SageMaker's values (in that family: ml.t3.micro,"),
        "{msg}"
    );
    assert!(
        msg.contains("JupyterLabAppSettings.DefaultResourceSpec.InstanceType"),
        "{msg}"
    );
    assert_refused(
        "\"ml.t3.large\"",
        "\"t3.large\"",
        21,
        "mappings[0].apps.code_editor_instance_type",
        "\"t3.large\" is not one of SageMaker's values (such as system, ml.t3.micro",
    );
}

#[test]
fn a_malformed_lifecycle_config_arn_is_refused() {
    for arn in [
        "install-tools",
        "arn:aws:sagemaker:us-east-1:111122223333:lifecycle-config/install-tools",
        "arn:aws:sagemaker:us-east-1:1111:studio-lifecycle-config/install-tools",
    ] {
        assert_refused(
            "\"arn:aws:sagemaker:us-east-1:111122223333:studio-lifecycle-config/install-tools\"",
            &format!(
                "\"arn:aws:sagemaker:us-east-1:111122223333:studio-lifecycle-config/ok\", \"{arn}\""
            ),
            20,
            "mappings[0].apps.jupyterlab_lifecycle_config_arns[1]",
            "does not match SageMaker's pattern (arn:aws[a-z\\-]*:sagemaker:",
        );
    }
}

#[test]
fn a_role_arn_outside_the_model_pattern_is_refused() {
    // The partition is aws, aws-cn, aws-us-gov...: lowercase letters and hyphens only.
    assert_refused(
        "arn:aws:iam::111122223333:role/studio-research",
        "arn:aws_us_gov:iam::111122223333:role/studio-research",
        13,
        "mappings[0].execution_role",
        "does not match SageMaker's pattern arn:aws[a-z\\-]*:iam::\\d{12}:role/?",
    );
}

#[test]
fn a_landing_uri_over_1023_characters_is_refused() {
    assert_refused(
        "\"studio::\"",
        &format!("\"studio::{}\"", "x".repeat(1016)),
        18,
        "mappings[0].apps.default_landing_uri",
        "has 1024 characters; SageMaker accepts at most 1023",
    );
}

#[test]
fn java_classes_keep_their_java_meaning() {
    // \d is [0-9] in Java: Arabic-Indic digits are not an account id.
    let digits = Pattern::try_from(r"\d{2}".to_owned()).expect("compiles");
    assert!(digits.regex.is_match("12"));
    assert!(!digits.regex.is_match("١٢"));
    // . stops at Java's line terminators, not only at \n.
    let any = Pattern::try_from("a.*".to_owned()).expect("compiles");
    for bad in ["a\r", "a\u{2028}", "a\u{85}", "a\n"] {
        assert!(!any.regex.is_match(bad), "{bad:?}");
    }
    assert!(any.regex.is_match("a-b c"));
    // Inside a class, . is a dot.
    let dot = Pattern::try_from("[.]".to_owned()).expect("compiles");
    assert!(dot.regex.is_match(".") && !dot.regex.is_match("x"));
    // Escapes pass through.
    let escaped = Pattern::try_from(r"[\-\.]+\\d".to_owned()).expect("compiles");
    assert!(escaped.regex.is_match(r"-.\d"));
    // Surrogate pairs as Java writes them mean supplementary code points.
    let astral = Pattern::try_from(r"[\uD800\uDC00-\uDBFF\uDFFF]+".to_owned()).expect("compiles");
    assert!(astral.regex.is_match("😀") && !astral.regex.is_match("a"));
}

#[test]
fn a_lifecycle_config_arn_with_a_line_separator_is_refused() {
    // The model's `.*` does not cross Java's line terminators; the regex crate's would.
    let (_, msg) = refused(
        "studio-lifecycle-config/install-tools",
        "studio-lifecycle-config/install\\u2028tools",
    );
    assert!(
        msg.starts_with("mappings[0].apps.jupyterlab_lifecycle_config_arns[0]: "),
        "{msg}"
    );
}

#[test]
fn oversized_values_keep_the_message_short() {
    let (_, msg) = refused(
        "team = \"research\"",
        &format!("team = \"{}&\"", "x".repeat(100_000)),
    );
    assert!(msg.len() < 400, "{} characters", msg.len());
    assert!(msg.contains('…'), "{msg}");
}

#[test]
fn the_first_bad_tag_in_the_file_is_the_one_reported() {
    let (_, msg) = refused(
        "team = \"research\", cost-center = \"cc-1042\"",
        "zeta = \"z&\", alpha = \"a&\"",
    );
    assert!(msg.starts_with("mappings[0].tags.zeta: "), "{msg}");
}
