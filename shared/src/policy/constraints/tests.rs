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
jupyterlab_idle_timeout_minutes = 120
jupyterlab_min_idle_timeout_minutes = 60
jupyterlab_max_idle_timeout_minutes = 480
jupyterlab_default_lifecycle_config_arn = "arn:aws:sagemaker:us-east-1:111122223333:studio-lifecycle-config/install-tools"
jupyterlab_image_arn = "arn:aws:sagemaker:us-east-1:111122223333:image/team-image"
jupyterlab_custom_images = [{ image_name = "team-image", app_image_config_name = "team-config", image_version_number = 2 }]
code_editor_idle_timeout_minutes = 60
code_editor_lifecycle_config_arns = ["arn:aws:sagemaker:us-east-1:111122223333:studio-lifecycle-config/editor-tools"]
code_editor_default_lifecycle_config_arn = "arn:aws:sagemaker:us-east-1:111122223333:studio-lifecycle-config/editor-tools"
code_editor_image_arn = "arn:aws:sagemaker:us-east-1:111122223333:image/editor-image"
code_editor_custom_images = [{ image_name = "editor-image", app_image_config_name = "editor-config" }]
hidden_instance_types = ["ml.p5.48xlarge", "ml.p4d.24xlarge"]

[mappings.private_space]
display_name = "Notebooks"
ebs_size_gb = 20
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
        ["CreateSpace", "CreateUserProfile", "UpdateUserProfile"]
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
            Value::Integer(_) => assert_eq!(s.kind, Kind::Integer, "{path}"),
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
    // The root holds the members of CreateUserProfile and of CreateSpace (the private space):
    // each root member is walked in the request shapes that have it, and must be in one.
    let Value::Structure(root) = &request.value else {
        panic!("the request is a structure")
    };
    for (name, child) in root {
        let mut found = false;
        for input in ["CreateUserProfileRequest", "CreateSpaceRequest"] {
            if let Some(shape) = model.shapes[input].members.get(*name) {
                found = true;
                let path = format!(".{name}");
                seen.push(path.clone());
                walk(model, child, shape, &path, &mut seen);
            }
        }
        assert!(
            found,
            "{name} is in neither CreateUserProfile nor CreateSpace"
        );
    }
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
        ".UserSettings.JupyterLabAppSettings.DefaultResourceSpec.LifecycleConfigArn",
        ".UserSettings.JupyterLabAppSettings.DefaultResourceSpec.SageMakerImageArn",
        ".UserSettings.JupyterLabAppSettings.CustomImages.member.ImageName",
        ".UserSettings.JupyterLabAppSettings.CustomImages.member.AppImageConfigName",
        ".UserSettings.JupyterLabAppSettings.CustomImages.member.ImageVersionNumber",
        ".UserSettings.JupyterLabAppSettings.AppLifecycleManagement.IdleSettings.LifecycleManagement",
        ".UserSettings.JupyterLabAppSettings.AppLifecycleManagement.IdleSettings.IdleTimeoutInMinutes",
        ".UserSettings.JupyterLabAppSettings.AppLifecycleManagement.IdleSettings.MinIdleTimeoutInMinutes",
        ".UserSettings.JupyterLabAppSettings.AppLifecycleManagement.IdleSettings.MaxIdleTimeoutInMinutes",
        ".UserSettings.CodeEditorAppSettings.LifecycleConfigArns",
        ".UserSettings.CodeEditorAppSettings.DefaultResourceSpec.LifecycleConfigArn",
        ".UserSettings.CodeEditorAppSettings.DefaultResourceSpec.SageMakerImageArn",
        ".UserSettings.CodeEditorAppSettings.CustomImages.member.ImageName",
        ".UserSettings.CodeEditorAppSettings.AppLifecycleManagement.IdleSettings.IdleTimeoutInMinutes",
        ".UserSettings.StudioWebPortalSettings.HiddenInstanceTypes",
        ".SpaceSettings.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb",
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
    let idle = apps.jupyterlab.idle.expect("idle shutdown");
    assert_eq!(
        (
            idle.timeout_minutes,
            idle.min_timeout_minutes,
            idle.max_timeout_minutes
        ),
        (Some(120), Some(60), Some(480))
    );
    assert_eq!(
        apps.code_editor.idle.and_then(|i| i.timeout_minutes),
        Some(60)
    );
    assert_eq!(
        apps.jupyterlab.custom_images[0].image_version_number,
        Some(2)
    );
    assert_eq!(apps.code_editor.custom_images[0].image_version_number, None);
    assert_eq!(apps.code_editor.lifecycle_config_arns.len(), 1);
    assert_eq!(apps.hidden_instance_types.len(), 2);
    let space = policy.mappings[0]
        .template
        .private_space
        .as_ref()
        .expect("private space");
    assert_eq!(
        (space.display_name.as_deref(), space.ebs_size_gb),
        (Some("Notebooks"), Some(20))
    );
    // The bounds themselves are accepted (the model's minimum and maximum).
    parse(
        &FULL
            .replacen(
                "jupyterlab_max_idle_timeout_minutes = 480",
                "jupyterlab_max_idle_timeout_minutes = 525600",
                1,
            )
            .replacen("ebs_size_gb = 20", "ebs_size_gb = 16384", 1),
    )
    .expect("the model's bounds");
    parse(&FULL.replacen("ebs_size_gb = 20", "ebs_size_gb = 5", 1)).expect("5 GB");
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

// ------------------------------------------------ the settings of issue 15, item 3

#[test]
fn idle_timeouts_outside_the_models_range_are_refused() {
    assert_refused(
        "jupyterlab_idle_timeout_minutes = 120",
        "jupyterlab_idle_timeout_minutes = 59",
        22,
        "mappings[0].apps.jupyterlab_idle_timeout_minutes",
        "59 is below 60, SageMaker's minimum (CreateUserProfile UserSettings.JupyterLabAppSettings.AppLifecycleManagement.IdleSettings.IdleTimeoutInMinutes, shape IdleTimeoutInMinutes)",
    );
    assert_refused(
        "jupyterlab_max_idle_timeout_minutes = 480",
        "jupyterlab_max_idle_timeout_minutes = 525601",
        24,
        "mappings[0].apps.jupyterlab_max_idle_timeout_minutes",
        "525601 is above 525600, SageMaker's maximum",
    );
    assert_refused(
        "code_editor_idle_timeout_minutes = 60",
        "code_editor_idle_timeout_minutes = -5",
        28,
        "mappings[0].apps.code_editor_idle_timeout_minutes",
        "CodeEditorAppSettings.AppLifecycleManagement.IdleSettings.IdleTimeoutInMinutes",
    );
}

#[test]
fn an_idle_timeout_outside_its_own_range_is_refused() {
    assert_refused(
        "jupyterlab_idle_timeout_minutes = 120",
        "jupyterlab_idle_timeout_minutes = 500",
        22,
        "mappings[0].apps.jupyterlab_idle_timeout_minutes",
        "500 is above jupyterlab_max_idle_timeout_minutes (480)",
    );
    let below = FULL
        .replacen(
            "jupyterlab_min_idle_timeout_minutes = 60",
            "jupyterlab_min_idle_timeout_minutes = 90",
            1,
        )
        .replacen(
            "jupyterlab_idle_timeout_minutes = 120",
            "jupyterlab_idle_timeout_minutes = 61",
            1,
        );
    match parse(&below) {
        Err(PolicyError::Invalid { line, message, .. }) => {
            assert_eq!(line, 22, "{message}");
            assert!(
                message.starts_with("mappings[0].apps.jupyterlab_idle_timeout_minutes: 61 is below jupyterlab_min_idle_timeout_minutes (90)"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let (line, msg) = refused(
        "jupyterlab_min_idle_timeout_minutes = 60",
        "jupyterlab_min_idle_timeout_minutes = 600",
    );
    assert_eq!(line, 23, "{msg}");
    assert!(
        msg.starts_with("mappings[0].apps.jupyterlab_min_idle_timeout_minutes: 600 is above jupyterlab_max_idle_timeout_minutes (480)"),
        "{msg}"
    );
    // A bound alone (no default timeout) is fine.
    parse(&FULL.replacen("jupyterlab_idle_timeout_minutes = 120\n", "", 1)).expect("range only");
}

#[test]
fn custom_images_are_held_to_the_model() {
    assert_refused(
        "image_name = \"team-image\"",
        "image_name = \"team_image\"",
        27,
        "mappings[0].apps.jupyterlab_custom_images[0].image_name",
        "does not match SageMaker's pattern [a-zA-Z0-9]([-.]?[a-zA-Z0-9]){0,62}",
    );
    assert_refused(
        "image_version_number = 2",
        "image_version_number = -1",
        27,
        "mappings[0].apps.jupyterlab_custom_images[0].image_version_number",
        "-1 is below 0, SageMaker's minimum",
    );
    assert_refused(
        "image_version_number = 2",
        "image_version_number = 4294967296",
        27,
        "mappings[0].apps.jupyterlab_custom_images[0].image_version_number",
        "a 32-bit integer",
    );
    let (_, msg) = refused("image_name = \"team-image\", ", "");
    assert!(msg.contains("missing field `image_name`"), "{msg}");
}

#[test]
fn default_lifecycle_configs_and_images_are_held_to_the_model() {
    assert_refused(
        "jupyterlab_default_lifecycle_config_arn = \"arn:aws:sagemaker:us-east-1:111122223333:studio-lifecycle-config/install-tools\"",
        "jupyterlab_default_lifecycle_config_arn = \"install-tools\"",
        25,
        "mappings[0].apps.jupyterlab_default_lifecycle_config_arn",
        "DefaultResourceSpec.LifecycleConfigArn, shape StudioLifecycleConfigArn",
    );
    assert_refused(
        "arn:aws:sagemaker:us-east-1:111122223333:image/editor-image",
        "arn:aws:sagemaker:us-east-1:111122223333:app-image-config/editor-image",
        31,
        "mappings[0].apps.code_editor_image_arn",
        "shape ImageArn",
    );
    assert_refused(
        "code_editor_lifecycle_config_arns = [\"arn:aws:sagemaker:us-east-1:111122223333:studio-lifecycle-config/editor-tools\"]",
        "code_editor_lifecycle_config_arns = [\"editor-tools\"]",
        29,
        "mappings[0].apps.code_editor_lifecycle_config_arns[0]",
        "CodeEditorAppSettings.LifecycleConfigArns.member",
    );
}

#[test]
fn hidden_instance_types_are_the_models_and_never_a_default() {
    assert_refused(
        "\"ml.p5.48xlarge\", ",
        "\"ml.p5.huge\", ",
        33,
        "mappings[0].apps.hidden_instance_types[0]",
        "\"ml.p5.huge\" is not one of SageMaker's values (in that family: ml.p5.48xlarge",
    );
    assert_refused(
        "\"ml.p5.48xlarge\", ",
        "\"ml.p5.48xlarge\", \"ml.t3.large\", ",
        33,
        "mappings[0].apps.hidden_instance_types",
        "\"ml.t3.large\" is code_editor_instance_type, the default of the user's apps",
    );
}

#[test]
fn the_private_space_is_held_to_create_space() {
    assert_refused(
        "ebs_size_gb = 20",
        "ebs_size_gb = 4",
        37,
        "mappings[0].private_space.ebs_size_gb",
        "4 is below 5, SageMaker's minimum (CreateSpace SpaceSettings.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb, shape SpaceEbsVolumeSizeInGb)",
    );
    assert_refused(
        "ebs_size_gb = 20",
        "ebs_size_gb = 16385",
        37,
        "mappings[0].private_space.ebs_size_gb",
        "16385 is above 16384",
    );
    assert_refused(
        "display_name = \"Notebooks\"",
        "display_name = \"  \"",
        36,
        "mappings[0].private_space.display_name",
        "a name Studio can show is required",
    );
    assert_refused(
        "display_name = \"Notebooks\"",
        "display_name = \"Note\\nbooks\"",
        36,
        "mappings[0].private_space.display_name",
        "a line break is not allowed",
    );
    // Spaces inside or around a name are fine; only a name of nothing but spaces is blank.
    parse(&FULL.replacen(
        "display_name = \"Notebooks\"",
        "display_name = \" My notebooks \"",
        1,
    ))
    .expect("spaces around a name");
    assert_refused(
        "display_name = \"Notebooks\"",
        &format!("display_name = \"{}\"", "n".repeat(65)),
        36,
        "mappings[0].private_space.display_name",
        "has 65 characters; SageMaker accepts at most 64",
    );
    // Both keys are optional: an empty table asks for a space with the domain's defaults.
    let policy = parse(&FULL.replacen("display_name = \"Notebooks\"\nebs_size_gb = 20\n", "", 1))
        .expect("defaults");
    assert_eq!(
        policy.mappings[0].template.private_space,
        Some(crate::template::PrivateSpace {
            display_name: None,
            ebs_size_gb: None
        })
    );
}
