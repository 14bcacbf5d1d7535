//! Behaviour tests of the local AWS emulator, through the real aws-sdk-rust clients.
//!
//! Every test starts its own emulator (they run in parallel) with a short status delay.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_identitystore::types::{
    AlternateIdentifier, AttributeOperation, Filter, MemberId, Name, UniqueAttribute,
};
use aws_sdk_sagemaker::error::ProvideErrorMetadata;
use aws_sdk_sagemaker::types::{
    AppNetworkAccessType, AppStatus, AppType, AuthMode, DockerSettings, DomainSettings,
    DomainSettingsForUpdate, FeatureStatus, JupyterServerAppSettings, OwnershipSettings,
    ResourceSpec, SharingType, SortOrder, SpaceSharingSettings, SpaceStatus, Tag,
    UserProfileSortKey, UserProfileStatus, UserSettings,
};
use aws_sdk_ssoadmin::types::PrincipalType;
use aws_smithy_types::Document;
use aws_smithy_types::retry::RetryConfig;
use warden_tests::{Emulator, EmulatorOptions, FaultRule};

const ROLE: &str = "arn:aws:iam::123456789012:role/studio-default";
const DELAY: Duration = Duration::from_millis(150);

async fn emulator() -> Emulator {
    start(EmulatorOptions {
        status_delay: DELAY,
        ..EmulatorOptions::default()
    })
    .await
}

async fn start(opts: EmulatorOptions) -> Emulator {
    Emulator::start_with(opts).await.expect("emulator starts")
}

fn sagemaker(emu: &Emulator) -> aws_sdk_sagemaker::Client {
    aws_sdk_sagemaker::Client::new(&emu.sdk_config())
}

/// A SageMaker client that never retries (to observe injected faults directly).
fn sagemaker_no_retry(emu: &Emulator) -> aws_sdk_sagemaker::Client {
    let conf = aws_sdk_sagemaker::config::Builder::from(&emu.sdk_config())
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_sagemaker::Client::from_conf(conf)
}

/// A SageMaker client with the standard 3 attempts but a 1 ms initial backoff.
fn sagemaker_fast_retry(emu: &Emulator) -> aws_sdk_sagemaker::Client {
    let conf = aws_sdk_sagemaker::config::Builder::from(&emu.sdk_config())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build();
    aws_sdk_sagemaker::Client::from_conf(conf)
}

fn code<E: ProvideErrorMetadata>(err: &E) -> String {
    err.code().unwrap_or("<no code>").to_string()
}

fn message<E: ProvideErrorMetadata>(err: &E) -> String {
    err.message().unwrap_or("").to_string()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

async fn create_domain(sm: &aws_sdk_sagemaker::Client, name: &str, auth: AuthMode) -> String {
    let out = sm
        .create_domain()
        .domain_name(name)
        .auth_mode(auth)
        .default_user_settings(
            UserSettings::builder()
                .execution_role(ROLE)
                .security_groups("sg-0profiles")
                .build(),
        )
        .domain_settings(
            DomainSettings::builder()
                .security_group_ids("sg-0domain")
                .build(),
        )
        .subnet_ids("subnet-0a")
        .subnet_ids("subnet-0b")
        .vpc_id("vpc-0studio")
        .app_network_access_type(AppNetworkAccessType::VpcOnly)
        .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/1234")
        .tags(tag("team", "ml-platform"))
        .send()
        .await
        .expect("create domain");
    out.domain_id().expect("domain id").to_string()
}

async fn create_profile(sm: &aws_sdk_sagemaker::Client, domain: &str, name: &str) -> String {
    sm.create_user_profile()
        .domain_id(domain)
        .user_profile_name(name)
        .send()
        .await
        .expect("create profile")
        .user_profile_arn()
        .expect("arn")
        .to_string()
}

/// Polls `probe` every 25 ms until it returns true or `timeout` passes.
async fn wait_for<F, Fut>(timeout: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if probe().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn profile_status(
    sm: &aws_sdk_sagemaker::Client,
    domain: &str,
    name: &str,
) -> Option<UserProfileStatus> {
    sm.describe_user_profile()
        .domain_id(domain)
        .user_profile_name(name)
        .send()
        .await
        .ok()
        .and_then(|out| out.status().cloned())
}

async fn app_status(
    sm: &aws_sdk_sagemaker::Client,
    domain: &str,
    profile: &str,
    name: &str,
) -> Option<AppStatus> {
    sm.describe_app()
        .domain_id(domain)
        .user_profile_name(profile)
        .app_type(AppType::JupyterServer)
        .app_name(name)
        .send()
        .await
        .ok()
        .and_then(|out| out.status().cloned())
}

async fn create_jupyter(sm: &aws_sdk_sagemaker::Client, domain: &str, profile: &str) {
    sm.create_app()
        .domain_id(domain)
        .user_profile_name(profile)
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect("create app");
}

async fn delete_jupyter_and_wait(sm: &aws_sdk_sagemaker::Client, domain: &str, profile: &str) {
    sm.delete_app()
        .domain_id(domain)
        .user_profile_name(profile)
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect("delete app");
    assert!(
        wait_for(Duration::from_secs(5), || async {
            app_status(sm, domain, profile, "default").await == Some(AppStatus::Deleted)
        })
        .await,
        "app reaches Deleted"
    );
}

// ------------------------------------------------------------------------- harness

#[tokio::test]
async fn starts_quickly_and_reports_its_endpoint() {
    let emu = emulator().await;
    assert!(
        emu.endpoint().starts_with("http://127.0.0.1:"),
        "{}",
        emu.endpoint()
    );
    eprintln!("emulator start-up took {:?}", emu.startup_time());
    assert!(
        emu.startup_time() < Duration::from_secs(10),
        "start-up {:?}",
        emu.startup_time()
    );
    // A first call through the SDK works.
    let first_call = Instant::now();
    let domains = sagemaker(&emu)
        .list_domains()
        .send()
        .await
        .expect("list domains");
    assert!(domains.domains().is_empty());
    eprintln!("first SageMaker call took {:?}", first_call.elapsed());
}

#[tokio::test]
async fn drop_kills_and_reaps_the_emulator() {
    let emu = emulator().await;
    let pid = emu.pid();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(emu);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "process {pid} still exists"
    );
}

fn exited(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // Field 3 is the state; a zombie has exited but nobody reaped it yet.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}

#[tokio::test]
async fn emulator_exits_when_its_parent_dies() {
    // sh starts the emulator in the background and exits at once: the emulator is
    // orphaned and must notice.
    let python = warden_tests::python_path();
    let script = warden_tests::emulator_script();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#""$0" "$1" --port 0 --parent-pid $$ >/dev/null 2>&1 & echo $!"#)
        .arg(&python)
        .arg(&script)
        .output()
        .expect("run sh");
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!pid.is_empty(), "sh printed the emulator pid");
    let gone = wait_for(Duration::from_secs(10), || {
        let pid = pid.clone();
        async move { exited(&pid) }
    })
    .await;
    if !gone {
        // Do not leave the orphan behind when the behaviour under test is broken.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
    }
    assert!(gone, "orphaned emulator {pid} is still running");
}

// ------------------------------------------------------------------------- profiles

#[tokio::test]
async fn profile_names_are_validated_with_the_api_pattern() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "names", AuthMode::Iam).await;
    for bad in [
        "alice.smith",
        "alice@example.com",
        "-alice",
        "alice_smith",
        &"a".repeat(64),
    ] {
        let err = sm
            .create_user_profile()
            .domain_id(&domain)
            .user_profile_name(bad)
            .send()
            .await
            .expect_err(bad);
        assert_eq!(code(&err), "ValidationException", "{bad}");
        assert!(
            message(&err).contains(&format!(
                "Value '{bad}' at 'userProfileName' failed to satisfy constraint"
            )),
            "{bad}: {}",
            message(&err)
        );
    }
    let err = sm
        .create_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice.smith")
        .send()
        .await
        .expect_err("dot");
    assert!(
        message(&err).starts_with("1 validation error detected: "),
        "{}",
        message(&err)
    );
    // The pattern as the service model writes it (the API reference shows it anchored, ^...).
    assert!(
        message(&err).ends_with("[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"),
        "{}",
        message(&err)
    );
    for good in ["alice", "alice--smith", "A1", &"b".repeat(63)] {
        create_profile(&sm, &domain, good).await;
    }
    // Apps and spaces share the pattern.
    let err = sm
        .create_space()
        .domain_id(&domain)
        .space_name("my space")
        .send()
        .await
        .expect_err("space");
    assert_eq!(code(&err), "ValidationException");
    let err = sm
        .create_app()
        .domain_id(&domain)
        .user_profile_name("alice")
        .app_type(AppType::JupyterServer)
        .app_name("default.app")
        .send()
        .await
        .expect_err("app");
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn duplicate_profiles_spaces_and_apps_are_resource_in_use() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "dups", AuthMode::Iam).await;
    create_profile(&sm, &domain, "alice").await;
    for dup in ["alice", "ALICE"] {
        let err = sm
            .create_user_profile()
            .domain_id(&domain)
            .user_profile_name(dup)
            .send()
            .await
            .expect_err(dup);
        assert_eq!(
            code(&err),
            "ResourceInUse",
            "{dup} (names are case-insensitive)"
        );
    }
    sm.create_space()
        .domain_id(&domain)
        .space_name("shared")
        .send()
        .await
        .expect("space");
    let err = sm
        .create_space()
        .domain_id(&domain)
        .space_name("shared")
        .send()
        .await
        .expect_err("dup space");
    assert_eq!(code(&err), "ResourceInUse");
    create_jupyter(&sm, &domain, "alice").await;
    let err = sm
        .create_app()
        .domain_id(&domain)
        .user_profile_name("alice")
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect_err("dup app");
    assert_eq!(code(&err), "ResourceInUse");
    // Once Deleted, the same app can be created again.
    delete_jupyter_and_wait(&sm, &domain, "alice").await;
    create_jupyter(&sm, &domain, "alice").await;
    assert_eq!(
        app_status(&sm, &domain, "alice", "default").await,
        Some(AppStatus::Pending)
    );
}

#[tokio::test]
async fn delete_profile_is_refused_while_it_has_apps() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "apps", AuthMode::Iam).await;
    let arn = create_profile(&sm, &domain, "alice").await;
    create_jupyter(&sm, &domain, "alice").await;
    let err = sm
        .delete_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .send()
        .await
        .expect_err("apps");
    assert_eq!(code(&err), "ResourceInUse");
    assert_eq!(
        message(&err),
        format!("Unable to delete UserProfile [{arn}] because App(s) are associated with it.")
    );
    // Still refused while the app is only Deleting.
    sm.delete_app()
        .domain_id(&domain)
        .user_profile_name("alice")
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect("delete app");
    let err = sm
        .delete_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .send()
        .await
        .expect_err("deleting app");
    assert_eq!(code(&err), "ResourceInUse");
    assert!(
        wait_for(Duration::from_secs(5), || async {
            app_status(&sm, &domain, "alice", "default").await == Some(AppStatus::Deleted)
        })
        .await
    );
    sm.delete_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .send()
        .await
        .expect("delete once apps are Deleted");
}

#[tokio::test]
async fn delete_profile_is_refused_while_it_owns_any_space() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "spaces", AuthMode::Iam).await;
    create_profile(&sm, &domain, "alice").await;
    create_profile(&sm, &domain, "bob").await;
    sm.create_space()
        .domain_id(&domain)
        .space_name("alice-private")
        .ownership_settings(
            OwnershipSettings::builder()
                .owner_user_profile_name("alice")
                .build(),
        )
        .space_sharing_settings(
            SpaceSharingSettings::builder()
                .sharing_type(SharingType::Private)
                .build(),
        )
        .send()
        .await
        .expect("private space");
    sm.create_space()
        .domain_id(&domain)
        .space_name("bob-shared")
        .ownership_settings(
            OwnershipSettings::builder()
                .owner_user_profile_name("bob")
                .build(),
        )
        .space_sharing_settings(
            SpaceSharingSettings::builder()
                .sharing_type(SharingType::Shared)
                .build(),
        )
        .send()
        .await
        .expect("shared space");
    let err = sm
        .delete_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .send()
        .await
        .expect_err("owns private space");
    assert_eq!(code(&err), "ResourceInUse");
    assert!(message(&err).contains("Space(s)"), "{}", message(&err));
    // Owning a shared space blocks too: "all spaces owned by the user profile must be
    // deleted to delete the user profile" (SageMaker developer guide).
    let err = sm
        .delete_user_profile()
        .domain_id(&domain)
        .user_profile_name("bob")
        .send()
        .await
        .expect_err("owns a shared space");
    assert_eq!(code(&err), "ResourceInUse");
    sm.delete_space()
        .domain_id(&domain)
        .space_name("alice-private")
        .send()
        .await
        .expect("delete space");
    // The space blocks until it is gone.
    let err = sm
        .delete_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .send()
        .await
        .expect_err("space still Deleting");
    assert_eq!(code(&err), "ResourceInUse");
    assert!(
        wait_for(Duration::from_secs(5), || async {
            sm.delete_user_profile()
                .domain_id(&domain)
                .user_profile_name("alice")
                .send()
                .await
                .is_ok()
        })
        .await,
        "profile deletable once its private space is gone"
    );
}

#[tokio::test]
async fn delete_space_is_refused_while_it_has_apps() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "spaceapps", AuthMode::Iam).await;
    sm.create_space()
        .domain_id(&domain)
        .space_name("lab")
        .send()
        .await
        .expect("space");
    let app_arn = sm
        .create_app()
        .domain_id(&domain)
        .space_name("lab")
        .app_type(AppType::JupyterLab)
        .app_name("default")
        .send()
        .await
        .expect("space app")
        .app_arn()
        .expect("arn")
        .to_string();
    assert!(
        app_arn.ends_with(&format!(":app/{domain}/lab/jupyterlab/default")),
        "{app_arn}"
    );
    let err = sm
        .delete_space()
        .domain_id(&domain)
        .space_name("lab")
        .send()
        .await
        .expect_err("space has apps");
    assert_eq!(code(&err), "ResourceInUse");
    sm.delete_app()
        .domain_id(&domain)
        .space_name("lab")
        .app_type(AppType::JupyterLab)
        .app_name("default")
        .send()
        .await
        .expect("delete app");
    assert!(
        wait_for(Duration::from_secs(5), || async {
            sm.delete_space()
                .domain_id(&domain)
                .space_name("lab")
                .send()
                .await
                .is_ok()
        })
        .await
    );
}

#[tokio::test]
async fn unknown_resources_and_domains_are_resource_not_found() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "nf", AuthMode::Iam).await;
    let missing_domain = "d-000000000000";

    let err = sm
        .describe_user_profile()
        .domain_id(&domain)
        .user_profile_name("nobody")
        .send()
        .await
        .expect_err("profile");
    assert_eq!(code(&err), "ResourceNotFound");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_resource_not_found())
    );

    let err = sm
        .delete_user_profile()
        .domain_id(&domain)
        .user_profile_name("nobody")
        .send()
        .await
        .expect_err("delete profile");
    assert_eq!(code(&err), "ResourceNotFound");

    let err = sm
        .update_user_profile()
        .domain_id(&domain)
        .user_profile_name("nobody")
        .send()
        .await
        .expect_err("update profile");
    assert_eq!(code(&err), "ResourceNotFound");

    let err = sm
        .describe_app()
        .domain_id(&domain)
        .user_profile_name("nobody")
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect_err("app");
    assert_eq!(code(&err), "ResourceNotFound");

    let err = sm
        .create_app()
        .domain_id(&domain)
        .user_profile_name("nobody")
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect_err("app for unknown profile");
    assert_eq!(code(&err), "ResourceNotFound");

    let err = sm
        .describe_space()
        .domain_id(&domain)
        .space_name("nowhere")
        .send()
        .await
        .expect_err("space");
    assert_eq!(code(&err), "ResourceNotFound");

    let err = sm
        .delete_space()
        .domain_id(&domain)
        .space_name("nowhere")
        .send()
        .await
        .expect_err("delete space");
    assert_eq!(code(&err), "ResourceNotFound");

    // Unknown domain on profile, app and space calls.
    let err = sm
        .create_user_profile()
        .domain_id(missing_domain)
        .user_profile_name("alice")
        .send()
        .await
        .expect_err("create in unknown domain");
    assert_eq!(code(&err), "ResourceNotFound");
    let err = sm
        .describe_user_profile()
        .domain_id(missing_domain)
        .user_profile_name("alice")
        .send()
        .await
        .expect_err("describe in unknown domain");
    assert_eq!(code(&err), "ResourceNotFound");
    let err = sm
        .create_space()
        .domain_id(missing_domain)
        .space_name("s")
        .send()
        .await
        .expect_err("space in unknown domain");
    assert_eq!(code(&err), "ResourceNotFound");
    let err = sm
        .create_app()
        .domain_id(missing_domain)
        .user_profile_name("alice")
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect_err("app in unknown domain");
    assert_eq!(code(&err), "ResourceNotFound");
    let err = sm
        .describe_domain()
        .domain_id(missing_domain)
        .send()
        .await
        .expect_err("domain");
    assert_eq!(code(&err), "ResourceNotFound");
    let err = sm
        .update_domain()
        .domain_id(missing_domain)
        .send()
        .await
        .expect_err("update domain");
    assert_eq!(code(&err), "ResourceNotFound");
    // A malformed domain id is a validation error, not a lookup.
    let err = sm
        .describe_user_profile()
        .domain_id("D_bad")
        .user_profile_name("alice")
        .send()
        .await
        .expect_err("bad domain id");
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn statuses_change_asynchronously() {
    let emu = start(EmulatorOptions {
        status_delay: Duration::from_millis(300),
        ..EmulatorOptions::default()
    })
    .await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "async", AuthMode::Iam).await;
    create_profile(&sm, &domain, "alice").await;
    assert_eq!(
        profile_status(&sm, &domain, "alice").await,
        Some(UserProfileStatus::Pending)
    );
    assert!(
        wait_for(Duration::from_secs(5), || async {
            profile_status(&sm, &domain, "alice").await == Some(UserProfileStatus::InService)
        })
        .await
    );

    sm.update_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .user_settings(UserSettings::builder().security_groups("sg-0new").build())
        .send()
        .await
        .expect("update");
    assert_eq!(
        profile_status(&sm, &domain, "alice").await,
        Some(UserProfileStatus::Updating)
    );
    assert!(
        wait_for(Duration::from_secs(5), || async {
            profile_status(&sm, &domain, "alice").await == Some(UserProfileStatus::InService)
        })
        .await
    );

    create_jupyter(&sm, &domain, "alice").await;
    assert_eq!(
        app_status(&sm, &domain, "alice", "default").await,
        Some(AppStatus::Pending)
    );
    assert!(
        wait_for(Duration::from_secs(5), || async {
            app_status(&sm, &domain, "alice", "default").await == Some(AppStatus::InService)
        })
        .await
    );
    sm.delete_app()
        .domain_id(&domain)
        .user_profile_name("alice")
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect("delete app");
    assert_eq!(
        app_status(&sm, &domain, "alice", "default").await,
        Some(AppStatus::Deleting)
    );
    let err = sm
        .delete_app()
        .domain_id(&domain)
        .user_profile_name("alice")
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect_err("already deleting");
    assert_eq!(code(&err), "ResourceInUse");
    assert!(
        wait_for(Duration::from_secs(5), || async {
            app_status(&sm, &domain, "alice", "default").await == Some(AppStatus::Deleted)
        })
        .await
    );
    // A Deleted app stays visible, and deleting it again is a validation error.
    let err = sm
        .delete_app()
        .domain_id(&domain)
        .user_profile_name("alice")
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect_err("already deleted");
    assert_eq!(code(&err), "ValidationException");
    assert!(message(&err).contains("has already been deleted"));

    sm.delete_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .send()
        .await
        .expect("delete profile");
    assert_eq!(
        profile_status(&sm, &domain, "alice").await,
        Some(UserProfileStatus::Deleting)
    );
    assert!(
        wait_for(Duration::from_secs(5), || async {
            let err = sm
                .describe_user_profile()
                .domain_id(&domain)
                .user_profile_name("alice")
                .send()
                .await;
            matches!(err, Err(e) if code(&e) == "ResourceNotFound")
        })
        .await,
        "a deleted profile disappears"
    );
    // Its Deleted apps went with it.
    let apps = sm
        .list_apps()
        .domain_id_equals(&domain)
        .send()
        .await
        .expect("list apps");
    assert!(apps.apps().is_empty());
}

#[tokio::test]
async fn profile_quota_gives_resource_limit_exceeded() {
    let emu = start(EmulatorOptions {
        status_delay: DELAY,
        profile_quota: Some(2),
        ..EmulatorOptions::default()
    })
    .await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "quota", AuthMode::Iam).await;
    let other = create_domain(&sm, "quota-other", AuthMode::Iam).await;
    create_profile(&sm, &domain, "a").await;
    create_profile(&sm, &domain, "b").await;
    let err = sm
        .create_user_profile()
        .domain_id(&domain)
        .user_profile_name("c")
        .send()
        .await
        .expect_err("quota");
    assert_eq!(code(&err), "ResourceLimitExceeded");
    assert!(
        message(&err).contains("is 2 UserProfiles"),
        "{}",
        message(&err)
    );
    // The quota is per domain.
    create_profile(&sm, &other, "c").await;
    // And it can be changed at run time.
    emu.configure(None, Some(3)).await.expect("configure");
    create_profile(&sm, &domain, "c").await;
}

#[tokio::test]
async fn update_profile_while_jupyter_server_runs_merges_settings() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "upd", AuthMode::Iam).await;
    sm.create_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .user_settings(
            UserSettings::builder()
                .execution_role(ROLE)
                .security_groups("sg-0a")
                .jupyter_server_app_settings(
                    JupyterServerAppSettings::builder()
                        .default_resource_spec(
                            ResourceSpec::builder()
                                .instance_type("system".into())
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("create");
    create_jupyter(&sm, &domain, "alice").await;
    assert!(
        wait_for(Duration::from_secs(5), || async {
            app_status(&sm, &domain, "alice", "default").await == Some(AppStatus::InService)
        })
        .await
    );
    // AWS documents that the update *can* fail while the app runs, not when or how: the
    // emulator invents no refusal (README, "unknown in AWS").
    sm.update_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .user_settings(UserSettings::builder().security_groups("sg-0b").build())
        .send()
        .await
        .expect("update while JupyterServer runs");
    let out = sm
        .describe_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .send()
        .await
        .expect("describe");
    let settings = out.user_settings().expect("settings");
    assert_eq!(settings.security_groups(), ["sg-0b"]);
    assert_eq!(
        settings.execution_role(),
        Some(ROLE),
        "untouched members are kept"
    );
    assert!(settings.jupyter_server_app_settings().is_some());
}

#[tokio::test]
async fn list_user_profiles_paginates_sorts_and_filters() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "paging", AuthMode::Iam).await;
    let other = create_domain(&sm, "paging-other", AuthMode::Iam).await;
    let names: Vec<String> = (0..105).map(|i| format!("user-{i:03}")).collect();
    for name in &names {
        create_profile(&sm, &domain, name).await;
    }
    create_profile(&sm, &other, "elsewhere").await;

    let err = sm
        .list_user_profiles()
        .domain_id_equals(&domain)
        .max_results(101)
        .send()
        .await
        .expect_err("101");
    assert_eq!(code(&err), "ValidationException");
    assert!(
        message(&err).contains("less than or equal to 100"),
        "{}",
        message(&err)
    );

    // Default page size is 10.
    let first = sm
        .list_user_profiles()
        .domain_id_equals(&domain)
        .send()
        .await
        .expect("list");
    assert_eq!(first.user_profiles().len(), 10);
    assert!(first.next_token().is_some());

    // Pages of at most 100, in creation order by default.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = sm
            .list_user_profiles()
            .domain_id_equals(&domain)
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("page");
        pages += 1;
        assert!(page.user_profiles().len() <= 100);
        for p in page.user_profiles() {
            assert_eq!(p.domain_id(), Some(domain.as_str()));
            assert!(
                p.status().is_some()
                    && p.creation_time().is_some()
                    && p.last_modified_time().is_some()
            );
            seen.push(p.user_profile_name().expect("name").to_string());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(seen, names);

    // Descending.
    let desc = sm
        .list_user_profiles()
        .domain_id_equals(&domain)
        .sort_by(UserProfileSortKey::CreationTime)
        .sort_order(SortOrder::Descending)
        .max_results(3)
        .send()
        .await
        .expect("desc");
    let got: Vec<_> = desc
        .user_profiles()
        .iter()
        .filter_map(|p| p.user_profile_name())
        .collect();
    assert_eq!(got, ["user-104", "user-103", "user-102"]);

    // LastModifiedTime sort puts the most recently updated profile first (descending).
    // (Reaching InService also modifies a profile: let every creation settle first.)
    tokio::time::sleep(DELAY * 2).await;
    sm.update_user_profile()
        .domain_id(&domain)
        .user_profile_name("user-000")
        .send()
        .await
        .expect("update");
    let by_modified = sm
        .list_user_profiles()
        .domain_id_equals(&domain)
        .sort_by(UserProfileSortKey::LastModifiedTime)
        .sort_order(SortOrder::Descending)
        .max_results(1)
        .send()
        .await
        .expect("by modified");
    assert_eq!(
        by_modified.user_profiles()[0].user_profile_name(),
        Some("user-000")
    );

    // Name filter.
    let filtered = sm
        .list_user_profiles()
        .domain_id_equals(&domain)
        .user_profile_name_contains("user-10")
        .send()
        .await
        .expect("contains");
    assert_eq!(filtered.user_profiles().len(), 5);

    // No domain filter: every domain.
    let mut all = 0;
    let mut token: Option<String> = None;
    loop {
        let page = sm
            .list_user_profiles()
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("all");
        all += page.user_profiles().len();
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(all, 106);
}

#[tokio::test]
async fn list_apps_by_profile_and_by_space() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "listapps", AuthMode::Iam).await;
    create_profile(&sm, &domain, "alice").await;
    create_profile(&sm, &domain, "bob").await;
    sm.create_space()
        .domain_id(&domain)
        .space_name("lab")
        .send()
        .await
        .expect("space");
    create_jupyter(&sm, &domain, "alice").await;
    create_jupyter(&sm, &domain, "bob").await;
    sm.create_app()
        .domain_id(&domain)
        .user_profile_name("alice")
        .app_type(AppType::KernelGateway)
        .app_name("datascience-1-0-ml-t3-medium")
        .resource_spec(
            ResourceSpec::builder()
                .instance_type("ml.t3.medium".into())
                .build(),
        )
        .send()
        .await
        .expect("kernel gateway");
    sm.create_app()
        .domain_id(&domain)
        .space_name("lab")
        .app_type(AppType::CodeEditor)
        .app_name("default")
        .send()
        .await
        .expect("space app");

    let alice = sm
        .list_apps()
        .domain_id_equals(&domain)
        .user_profile_name_equals("alice")
        .send()
        .await
        .expect("alice");
    assert_eq!(alice.apps().len(), 2);
    assert!(
        alice
            .apps()
            .iter()
            .all(|a| a.user_profile_name() == Some("alice") && a.space_name().is_none())
    );
    let kg = alice
        .apps()
        .iter()
        .find(|a| a.app_type() == Some(&AppType::KernelGateway))
        .expect("kg");
    assert_eq!(
        kg.resource_spec()
            .and_then(|r| r.instance_type())
            .map(|t| t.as_str()),
        Some("ml.t3.medium")
    );

    let lab = sm
        .list_apps()
        .domain_id_equals(&domain)
        .space_name_equals("lab")
        .send()
        .await
        .expect("lab");
    assert_eq!(lab.apps().len(), 1);
    assert_eq!(lab.apps()[0].space_name(), Some("lab"));
    assert_eq!(lab.apps()[0].app_type(), Some(&AppType::CodeEditor));

    let err = sm
        .list_apps()
        .domain_id_equals(&domain)
        .user_profile_name_equals("alice")
        .space_name_equals("lab")
        .send()
        .await
        .expect_err("both filters");
    assert_eq!(code(&err), "ValidationException");

    let page = sm
        .list_apps()
        .domain_id_equals(&domain)
        .max_results(3)
        .send()
        .await
        .expect("page 1");
    assert_eq!(page.apps().len(), 3);
    let rest = sm
        .list_apps()
        .domain_id_equals(&domain)
        .max_results(3)
        .next_token(page.next_token().expect("token"))
        .send()
        .await
        .expect("page 2");
    assert_eq!(rest.apps().len(), 1);
    assert!(rest.next_token().is_none());

    let err = sm
        .describe_app()
        .domain_id(&domain)
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect_err("no owner");
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn list_spaces_returns_ownership_and_sharing_summaries() {
    // A status delay no loaded machine outlasts: the new space must still read Pending.
    let emu = start(EmulatorOptions {
        status_delay: Duration::from_secs(30),
        ..EmulatorOptions::default()
    })
    .await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "listspaces", AuthMode::Iam).await;
    create_profile(&sm, &domain, "alice").await;
    sm.create_space()
        .domain_id(&domain)
        .space_name("alice-private")
        .space_display_name("Alice's space")
        .ownership_settings(
            OwnershipSettings::builder()
                .owner_user_profile_name("alice")
                .build(),
        )
        .space_sharing_settings(
            SpaceSharingSettings::builder()
                .sharing_type(SharingType::Private)
                .build(),
        )
        .space_settings(
            aws_sdk_sagemaker::types::SpaceSettings::builder()
                .app_type(AppType::JupyterLab)
                .build(),
        )
        .send()
        .await
        .expect("private");
    sm.create_space()
        .domain_id(&domain)
        .space_name("team")
        .send()
        .await
        .expect("legacy space");
    let err = sm
        .create_space()
        .domain_id(&domain)
        .space_name("orphan")
        .ownership_settings(
            OwnershipSettings::builder()
                .owner_user_profile_name("nobody")
                .build(),
        )
        .space_sharing_settings(
            SpaceSharingSettings::builder()
                .sharing_type(SharingType::Private)
                .build(),
        )
        .send()
        .await
        .expect_err("unknown owner");
    assert_eq!(code(&err), "ResourceNotFound");

    let out = sm
        .list_spaces()
        .domain_id_equals(&domain)
        .send()
        .await
        .expect("list spaces");
    assert_eq!(out.spaces().len(), 2);
    let private = out
        .spaces()
        .iter()
        .find(|s| s.space_name() == Some("alice-private"))
        .expect("private");
    assert_eq!(
        private
            .ownership_settings_summary()
            .and_then(|o| o.owner_user_profile_name()),
        Some("alice")
    );
    assert_eq!(
        private
            .space_sharing_settings_summary()
            .and_then(|s| s.sharing_type()),
        Some(&SharingType::Private)
    );
    assert_eq!(
        private.space_settings_summary().and_then(|s| s.app_type()),
        Some(&AppType::JupyterLab)
    );
    assert_eq!(private.space_display_name(), Some("Alice's space"));
    assert_eq!(private.status(), Some(&SpaceStatus::Pending));
    let team = out
        .spaces()
        .iter()
        .find(|s| s.space_name() == Some("team"))
        .expect("team");
    assert!(team.ownership_settings_summary().is_none());

    let filtered = sm
        .list_spaces()
        .domain_id_equals(&domain)
        .space_name_contains("alice")
        .send()
        .await
        .expect("contains");
    assert_eq!(filtered.spaces().len(), 1);

    let described = sm
        .describe_space()
        .domain_id(&domain)
        .space_name("alice-private")
        .send()
        .await
        .expect("describe");
    assert_eq!(
        described
            .ownership_settings()
            .and_then(|o| o.owner_user_profile_name()),
        Some("alice")
    );
    assert!(
        described
            .space_arn()
            .is_some_and(|a| a.ends_with(&format!(":space/{domain}/alice-private")))
    );
}

#[tokio::test]
async fn tags_work_on_profile_space_app_and_domain_arns() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "tags", AuthMode::Iam).await;
    let domain_arn = sm
        .describe_domain()
        .domain_id(&domain)
        .send()
        .await
        .expect("describe")
        .domain_arn()
        .expect("arn")
        .to_string();
    let profile_arn = sm
        .create_user_profile()
        .domain_id(&domain)
        .user_profile_name("Alice")
        .tags(tag("managed-by", "studio-warden"))
        .send()
        .await
        .expect("profile")
        .user_profile_arn()
        .expect("arn")
        .to_string();
    assert!(
        profile_arn.ends_with(&format!(":user-profile/{domain}/alice")),
        "ARNs carry lower-case names: {profile_arn}"
    );
    let space_arn = sm
        .create_space()
        .domain_id(&domain)
        .space_name("lab")
        .tags(tag("kind", "space"))
        .send()
        .await
        .expect("space")
        .space_arn()
        .expect("arn")
        .to_string();
    let app_arn = sm
        .create_app()
        .domain_id(&domain)
        .user_profile_name("Alice")
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .tags(tag("kind", "app"))
        .send()
        .await
        .expect("app")
        .app_arn()
        .expect("arn")
        .to_string();
    assert!(
        app_arn.ends_with(&format!(":app/{domain}/alice/jupyterserver/default")),
        "{app_arn}"
    );

    let keys = |tags: &[Tag]| {
        let mut v: Vec<String> = tags
            .iter()
            .map(|t| format!("{}={}", t.key().unwrap_or(""), t.value().unwrap_or("")))
            .collect();
        v.sort();
        v
    };
    // Apps inherit the domain's and the profile's tags.
    let app_tags = sm
        .list_tags()
        .resource_arn(&app_arn)
        .send()
        .await
        .expect("app tags");
    assert_eq!(
        keys(app_tags.tags()),
        ["kind=app", "managed-by=studio-warden", "team=ml-platform"]
    );
    for arn in [&domain_arn, &profile_arn, &space_arn, &app_arn] {
        sm.add_tags()
            .resource_arn(arn)
            .tags(tag("owner", "alice"))
            .tags(tag("cost-centre", "42"))
            .send()
            .await
            .expect("add");
        // AddTags overwrites an existing key.
        sm.add_tags()
            .resource_arn(arn)
            .tags(tag("owner", "bob"))
            .send()
            .await
            .expect("overwrite");
        sm.delete_tags()
            .resource_arn(arn)
            .tag_keys("cost-centre")
            .send()
            .await
            .expect("delete");
        let tags = sm.list_tags().resource_arn(arn).send().await.expect("list");
        let got = keys(tags.tags());
        assert!(got.contains(&"owner=bob".to_string()), "{arn}: {got:?}");
        assert!(
            !got.iter().any(|t| t.starts_with("cost-centre")),
            "{arn}: {got:?}"
        );
        assert_eq!(
            got.iter().filter(|t| t.starts_with("owner=")).count(),
            1,
            "{arn}"
        );
    }
    let profile_tags = keys(
        sm.list_tags()
            .resource_arn(&profile_arn)
            .send()
            .await
            .expect("p")
            .tags(),
    );
    assert_eq!(profile_tags, ["managed-by=studio-warden", "owner=bob"]);
    let err = sm
        .list_tags()
        .resource_arn(format!(
            "arn:aws:sagemaker:us-east-1:123456789012:user-profile/{domain}/ghost"
        ))
        .send()
        .await
        .expect_err("unknown arn");
    assert_eq!(code(&err), "ValidationException");
}

// ------------------------------------------------------------------------- domains

#[tokio::test]
async fn describe_domain_returns_the_sso_application_arn_for_sso_domains() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let sso_domain = create_domain(&sm, "sso", AuthMode::Sso).await;
    let iam_domain = create_domain(&sm, "iam", AuthMode::Iam).await;
    let sso = sm
        .describe_domain()
        .domain_id(&sso_domain)
        .send()
        .await
        .expect("sso");
    let arn = sso
        .single_sign_on_application_arn()
        .expect("SSO application ARN");
    let re_ok = arn.starts_with("arn:aws:sso::123456789012:application/ssoins-")
        && arn
            .split('/')
            .nth(1)
            .is_some_and(|i| i.len() == "ssoins-".len() + 16)
        && arn
            .split('/')
            .nth(2)
            .is_some_and(|a| a.starts_with("apl-") && a.len() == 20);
    assert!(re_ok, "{arn}");
    assert_eq!(sso.auth_mode(), Some(&AuthMode::Sso));
    // Stable for the domain.
    let again = sm
        .describe_domain()
        .domain_id(&sso_domain)
        .send()
        .await
        .expect("again");
    assert_eq!(again.single_sign_on_application_arn(), Some(arn));
    // The instance matches the account's Identity Center instance.
    let admin = aws_sdk_ssoadmin::Client::new(&emu.sdk_config());
    let instances = admin.list_instances().send().await.expect("instances");
    let instance_arn = instances.instances()[0]
        .instance_arn()
        .expect("instance arn");
    assert!(instance_arn.ends_with(arn.split('/').nth(1).expect("instance id")));

    let iam = sm
        .describe_domain()
        .domain_id(&iam_domain)
        .send()
        .await
        .expect("iam");
    assert!(iam.single_sign_on_application_arn().is_none());
    assert!(
        iam.single_sign_on_managed_application_instance_id()
            .is_none()
    );
    // Domain ids look like AWS's.
    assert!(
        sso_domain.starts_with("d-") && sso_domain.len() == 14,
        "{sso_domain}"
    );
}

#[tokio::test]
async fn describe_and_update_domain_network_fields() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "net", AuthMode::Iam).await;
    let out = sm
        .describe_domain()
        .domain_id(&domain)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        out.app_network_access_type(),
        Some(&AppNetworkAccessType::VpcOnly)
    );
    assert_eq!(out.vpc_id(), Some("vpc-0studio"));
    assert_eq!(out.subnet_ids(), ["subnet-0a", "subnet-0b"]);
    assert_eq!(
        out.domain_settings().map(|d| d.security_group_ids()),
        Some(&["sg-0domain".to_string()][..])
    );
    let dus = out.default_user_settings().expect("default user settings");
    assert_eq!(dus.security_groups(), ["sg-0profiles"]);
    assert_eq!(dus.execution_role(), Some(ROLE));
    assert_eq!(
        out.kms_key_id(),
        Some("arn:aws:kms:us-east-1:123456789012:key/1234")
    );
    assert_eq!(out.auth_mode(), Some(&AuthMode::Iam));

    sm.update_domain()
        .domain_id(&domain)
        .app_network_access_type(AppNetworkAccessType::PublicInternetOnly)
        .subnet_ids("subnet-0c")
        .domain_settings_for_update(
            DomainSettingsForUpdate::builder()
                .security_group_ids("sg-0drift")
                .docker_settings(
                    DockerSettings::builder()
                        .enable_docker_access(FeatureStatus::Enabled)
                        .build(),
                )
                .build(),
        )
        .default_user_settings(
            UserSettings::builder()
                .security_groups("sg-0changed")
                .build(),
        )
        .default_space_settings(
            aws_sdk_sagemaker::types::DefaultSpaceSettings::builder()
                .execution_role(ROLE)
                .security_groups("sg-0space")
                .build(),
        )
        .send()
        .await
        .expect("update");
    let out = sm
        .describe_domain()
        .domain_id(&domain)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        out.status(),
        Some(&aws_sdk_sagemaker::types::DomainStatus::Updating)
    );
    assert_eq!(
        out.app_network_access_type(),
        Some(&AppNetworkAccessType::PublicInternetOnly)
    );
    assert_eq!(out.subnet_ids(), ["subnet-0c"]);
    let settings = out.domain_settings().expect("domain settings");
    assert_eq!(settings.security_group_ids(), ["sg-0drift"]);
    assert_eq!(
        settings
            .docker_settings()
            .and_then(|d| d.enable_docker_access()),
        Some(&FeatureStatus::Enabled)
    );
    let dus = out.default_user_settings().expect("dus");
    assert_eq!(dus.security_groups(), ["sg-0changed"]);
    assert_eq!(dus.execution_role(), Some(ROLE), "merged, not replaced");
    assert_eq!(
        out.default_space_settings().map(|s| s.security_groups()),
        Some(&["sg-0space".to_string()][..])
    );
    assert!(
        wait_for(Duration::from_secs(5), || async {
            sm.describe_domain()
                .domain_id(&domain)
                .send()
                .await
                .ok()
                .and_then(|o| o.status().cloned())
                == Some(aws_sdk_sagemaker::types::DomainStatus::InService)
        })
        .await
    );

    // Network access cannot change while apps run.
    create_profile(&sm, &domain, "alice").await;
    create_jupyter(&sm, &domain, "alice").await;
    let err = sm
        .update_domain()
        .domain_id(&domain)
        .app_network_access_type(AppNetworkAccessType::VpcOnly)
        .send()
        .await
        .expect_err("apps running");
    assert_eq!(code(&err), "ResourceInUse");
}

// ------------------------------------------------------------------------- sso-admin

#[tokio::test]
async fn sso_application_assignments_create_list_delete() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let admin = aws_sdk_ssoadmin::Client::new(&emu.sdk_config());
    let domain = create_domain(&sm, "assign", AuthMode::Sso).await;
    let app = sm
        .describe_domain()
        .domain_id(&domain)
        .send()
        .await
        .expect("describe")
        .single_sign_on_application_arn()
        .expect("app arn")
        .to_string();
    let users: Vec<String> = (0..5)
        .map(|i| format!("{i:08x}-1111-2222-3333-444455556666"))
        .collect();
    for user in &users {
        admin
            .create_application_assignment()
            .application_arn(&app)
            .principal_id(user)
            .principal_type(PrincipalType::User)
            .send()
            .await
            .expect("assign");
    }
    // Assigning again is accepted and changes nothing.
    admin
        .create_application_assignment()
        .application_arn(&app)
        .principal_id(&users[0])
        .principal_type(PrincipalType::User)
        .send()
        .await
        .expect("idempotent assign");

    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = admin
            .list_application_assignments()
            .application_arn(&app)
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("list");
        assert!(page.application_assignments().len() <= 2);
        for a in page.application_assignments() {
            assert_eq!(a.application_arn(), app);
            assert_eq!(a.principal_type(), &PrincipalType::User);
            listed.push(a.principal_id().to_string());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(listed, users);

    let described = admin
        .describe_application_assignment()
        .application_arn(&app)
        .principal_id(&users[1])
        .principal_type(PrincipalType::User)
        .send()
        .await
        .expect("describe");
    assert_eq!(described.principal_id(), Some(users[1].as_str()));

    admin
        .delete_application_assignment()
        .application_arn(&app)
        .principal_id(&users[0])
        .principal_type(PrincipalType::User)
        .send()
        .await
        .expect("delete");
    let err = admin
        .delete_application_assignment()
        .application_arn(&app)
        .principal_id(&users[0])
        .principal_type(PrincipalType::User)
        .send()
        .await
        .expect_err("already deleted");
    assert_eq!(code(&err), "ResourceNotFoundException");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception())
    );

    let unknown =
        "arn:aws:sso::123456789012:application/ssoins-0000000000000000/apl-0000000000000000";
    let err = admin
        .list_application_assignments()
        .application_arn(unknown)
        .send()
        .await
        .expect_err("unknown app");
    assert_eq!(code(&err), "ResourceNotFoundException");
    let err = admin
        .create_application_assignment()
        .application_arn(unknown)
        .principal_id(&users[0])
        .principal_type(PrincipalType::User)
        .send()
        .await
        .expect_err("unknown app");
    assert_eq!(code(&err), "ResourceNotFoundException");
    let err = admin
        .create_application_assignment()
        .application_arn(&app)
        .principal_id("not-a-guid")
        .principal_type(PrincipalType::User)
        .send()
        .await
        .expect_err("bad principal");
    assert_eq!(code(&err), "ValidationException");
}

// ------------------------------------------------------------------------- identity store

#[tokio::test]
#[allow(deprecated)] // ListUsers/ListGroups filters: deprecated in favour of Get*Id, still served
async fn identity_store_supports_what_the_warden_calls() {
    let emu = emulator().await;
    let ids = aws_sdk_identitystore::Client::new(&emu.sdk_config());
    let admin = aws_sdk_ssoadmin::Client::new(&emu.sdk_config());
    let store = admin
        .list_instances()
        .send()
        .await
        .expect("instances")
        .instances()[0]
        .identity_store_id()
        .expect("store")
        .to_string();

    let mut user_ids = Vec::new();
    for i in 0..3 {
        let out = ids
            .create_user()
            .identity_store_id(&store)
            .user_name(format!("user{i}@example.com"))
            .display_name(format!("User {i}"))
            .name(
                Name::builder()
                    .given_name("User")
                    .family_name(format!("{i}"))
                    .build(),
            )
            .send()
            .await
            .expect("create user");
        assert!(out.user_arn().contains(out.user_id()), "{}", out.user_arn());
        user_ids.push(out.user_id().to_string());
    }
    let group = ids
        .create_group()
        .identity_store_id(&store)
        .display_name("ml-engineers")
        .description("ML engineers")
        .send()
        .await
        .expect("group")
        .group_id()
        .to_string();
    let mut memberships = Vec::new();
    for user in &user_ids {
        let m = ids
            .create_group_membership()
            .identity_store_id(&store)
            .group_id(&group)
            .member_id(MemberId::UserId(user.clone()))
            .send()
            .await
            .expect("membership");
        memberships.push(m.membership_id().to_string());
    }

    let described = ids
        .describe_user()
        .identity_store_id(&store)
        .user_id(&user_ids[0])
        .send()
        .await
        .expect("describe user");
    assert_eq!(described.user_name(), Some("user0@example.com"));
    let g = ids
        .describe_group()
        .identity_store_id(&store)
        .group_id(&group)
        .send()
        .await
        .expect("describe group");
    assert_eq!(g.display_name(), Some("ml-engineers"));
    let m = ids
        .describe_group_membership()
        .identity_store_id(&store)
        .membership_id(&memberships[1])
        .send()
        .await
        .expect("describe membership");
    assert_eq!(m.group_id(), group);
    assert_eq!(m.member_id(), Some(&MemberId::UserId(user_ids[1].clone())));

    // Paginated memberships.
    let mut members = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ids
            .list_group_memberships()
            .identity_store_id(&store)
            .group_id(&group)
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("list memberships");
        assert!(page.group_memberships().len() <= 2);
        for gm in page.group_memberships() {
            if let Some(MemberId::UserId(u)) = gm.member_id() {
                members.push(u.clone());
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    members.sort();
    let mut expected = user_ids.clone();
    expected.sort();
    assert_eq!(members, expected);

    let for_member = ids
        .list_group_memberships_for_member()
        .identity_store_id(&store)
        .member_id(MemberId::UserId(user_ids[2].clone()))
        .send()
        .await
        .expect("for member");
    assert_eq!(for_member.group_memberships().len(), 1);
    assert_eq!(
        for_member.group_memberships()[0].group_id(),
        Some(group.as_str())
    );

    let users = ids
        .list_users()
        .identity_store_id(&store)
        .filters(
            Filter::builder()
                .attribute_path("UserName")
                .attribute_value("user1@example.com")
                .build()
                .expect("filter"),
        )
        .send()
        .await
        .expect("list users");
    assert_eq!(users.users().len(), 1);
    assert_eq!(users.users()[0].user_id(), user_ids[1]);

    let groups = ids
        .list_groups()
        .identity_store_id(&store)
        .filters(
            Filter::builder()
                .attribute_path("DisplayName")
                .attribute_value("ml-engineers")
                .build()
                .expect("filter"),
        )
        .send()
        .await
        .expect("list groups");
    assert_eq!(groups.groups().len(), 1);

    let gid = ids
        .get_group_id()
        .identity_store_id(&store)
        .alternate_identifier(AlternateIdentifier::UniqueAttribute(
            UniqueAttribute::builder()
                .attribute_path("DisplayName")
                .attribute_value(Document::String("ml-engineers".into()))
                .build()
                .expect("unique attribute"),
        ))
        .send()
        .await
        .expect("get group id");
    assert_eq!(gid.group_id(), group);
    let uid = ids
        .get_user_id()
        .identity_store_id(&store)
        .alternate_identifier(AlternateIdentifier::UniqueAttribute(
            UniqueAttribute::builder()
                .attribute_path("UserName")
                .attribute_value(Document::String("user2@example.com".into()))
                .build()
                .expect("unique attribute"),
        ))
        .send()
        .await
        .expect("get user id");
    assert_eq!(uid.user_id(), user_ids[2]);

    ids.update_user()
        .identity_store_id(&store)
        .user_id(&user_ids[0])
        .operations(
            AttributeOperation::builder()
                .attribute_path("displayName")
                .attribute_value(Document::String("Renamed".into()))
                .build()
                .expect("op"),
        )
        .operations(
            AttributeOperation::builder()
                .attribute_path("name.givenName")
                .attribute_value(Document::String("Ada".into()))
                .build()
                .expect("op"),
        )
        .send()
        .await
        .expect("update user");
    let updated = ids
        .describe_user()
        .identity_store_id(&store)
        .user_id(&user_ids[0])
        .send()
        .await
        .expect("describe");
    assert_eq!(updated.display_name(), Some("Renamed"));
    assert_eq!(updated.name().and_then(|n| n.given_name()), Some("Ada"));
    assert_eq!(updated.name().and_then(|n| n.family_name()), Some("0"));

    ids.delete_group_membership()
        .identity_store_id(&store)
        .membership_id(&memberships[1])
        .send()
        .await
        .expect("delete membership");
    let err = ids
        .delete_group_membership()
        .identity_store_id(&store)
        .membership_id(&memberships[1])
        .send()
        .await
        .expect_err("gone");
    assert_eq!(code(&err), "ResourceNotFoundException");

    ids.delete_group()
        .identity_store_id(&store)
        .group_id(&group)
        .send()
        .await
        .expect("delete group");
    let err = ids
        .describe_group()
        .identity_store_id(&store)
        .group_id(&group)
        .send()
        .await
        .expect_err("group gone");
    assert_eq!(code(&err), "ResourceNotFoundException");
    // Its memberships went with it.
    let left = ids
        .list_group_memberships_for_member()
        .identity_store_id(&store)
        .member_id(MemberId::UserId(user_ids[0].clone()))
        .send()
        .await
        .expect("for member");
    assert!(left.group_memberships().is_empty());
}

#[tokio::test]
async fn identity_store_deletes_memberships_with_users_and_rejects_duplicates() {
    let emu = emulator().await;
    let ids = aws_sdk_identitystore::Client::new(&emu.sdk_config());
    let store = warden_tests::fixture::STORE;
    let user = ids
        .create_user()
        .identity_store_id(store)
        .user_name("carol")
        .display_name("Carol")
        .name(Name::builder().given_name("Carol").family_name("C").build())
        .send()
        .await
        .expect("user")
        .user_id()
        .to_string();
    let group = ids
        .create_group()
        .identity_store_id(store)
        .display_name("g")
        .send()
        .await
        .expect("group")
        .group_id()
        .to_string();
    let membership = ids
        .create_group_membership()
        .identity_store_id(store)
        .group_id(&group)
        .member_id(MemberId::UserId(user.clone()))
        .send()
        .await
        .expect("membership")
        .membership_id()
        .to_string();
    let err = ids
        .create_group_membership()
        .identity_store_id(store)
        .group_id(&group)
        .member_id(MemberId::UserId(user.clone()))
        .send()
        .await
        .expect_err("duplicate membership");
    assert_eq!(code(&err), "ConflictException");

    ids.delete_user()
        .identity_store_id(store)
        .user_id(&user)
        .send()
        .await
        .expect("delete user");
    let err = ids
        .describe_group_membership()
        .identity_store_id(store)
        .membership_id(&membership)
        .send()
        .await
        .expect_err("membership removed with the user");
    assert_eq!(code(&err), "ResourceNotFoundException");
    let memberships = ids
        .list_group_memberships()
        .identity_store_id(store)
        .group_id(&group)
        .send()
        .await
        .expect("list");
    assert!(memberships.group_memberships().is_empty());
    let err = ids
        .delete_user()
        .identity_store_id(store)
        .user_id(&user)
        .send()
        .await
        .expect_err("unknown user");
    assert_eq!(code(&err), "ResourceNotFoundException");
    let err = ids
        .update_user()
        .identity_store_id(store)
        .user_id(&user)
        .operations(
            AttributeOperation::builder()
                .attribute_path("displayName")
                .attribute_value(Document::String("x".into()))
                .build()
                .expect("op"),
        )
        .send()
        .await
        .expect_err("update unknown user");
    assert_eq!(code(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn sso_domain_profiles_need_an_identity_center_user() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let ids = aws_sdk_identitystore::Client::new(&emu.sdk_config());
    let domain = create_domain(&sm, "ssoprofiles", AuthMode::Sso).await;
    let err = sm
        .create_user_profile()
        .domain_id(&domain)
        .user_profile_name("dave")
        .send()
        .await
        .expect_err("SSO fields required");
    assert_eq!(code(&err), "ValidationException");
    let err = sm
        .create_user_profile()
        .domain_id(&domain)
        .user_profile_name("dave")
        .single_sign_on_user_identifier("UserName")
        .single_sign_on_user_value("dave@example.com")
        .send()
        .await
        .expect_err("no such directory user");
    assert_eq!(code(&err), "ValidationException");
    ids.create_user()
        .identity_store_id(warden_tests::fixture::STORE)
        .user_name("dave@example.com")
        .display_name("Dave")
        .name(Name::builder().given_name("Dave").family_name("D").build())
        .send()
        .await
        .expect("user");
    sm.create_user_profile()
        .domain_id(&domain)
        .user_profile_name("dave")
        .single_sign_on_user_identifier("UserName")
        .single_sign_on_user_value("dave@example.com")
        .send()
        .await
        .expect("profile");
    let out = sm
        .describe_user_profile()
        .domain_id(&domain)
        .user_profile_name("dave")
        .send()
        .await
        .expect("describe");
    assert_eq!(out.single_sign_on_user_identifier(), Some("UserName"));
    assert_eq!(out.single_sign_on_user_value(), Some("dave@example.com"));
    // IAM domains refuse the SSO fields.
    let iam = create_domain(&sm, "iamprofiles", AuthMode::Iam).await;
    let err = sm
        .create_user_profile()
        .domain_id(&iam)
        .user_profile_name("dave")
        .single_sign_on_user_identifier("UserName")
        .single_sign_on_user_value("dave@example.com")
        .send()
        .await
        .expect_err("IAM domain");
    assert_eq!(code(&err), "ValidationException");
}

// ------------------------------------------------------------------------- other services

#[tokio::test]
async fn dispatches_every_service_on_one_port() {
    let emu = emulator().await;
    let conf = emu.sdk_config();
    aws_sdk_sagemaker::Client::new(&conf)
        .list_domains()
        .send()
        .await
        .expect("sagemaker");
    aws_sdk_ssoadmin::Client::new(&conf)
        .list_instances()
        .send()
        .await
        .expect("sso-admin");
    aws_sdk_identitystore::Client::new(&conf)
        .list_groups()
        .identity_store_id(warden_tests::fixture::STORE)
        .send()
        .await
        .expect("identitystore");
    aws_sdk_dynamodb::Client::new(&conf)
        .list_tables()
        .send()
        .await
        .expect("dynamodb");
    let sns = aws_sdk_sns::Client::new(&conf);
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let topic = sns
        .create_topic()
        .name("drift-alerts")
        .send()
        .await
        .expect("sns");
    let topic_arn = topic.topic_arn().expect("topic arn").to_string();
    let queue_url = sqs
        .create_queue()
        .queue_name("alerts-inbox")
        .send()
        .await
        .expect("sqs")
        .queue_url()
        .expect("url")
        .to_string();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attrs")
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("queue arn");
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .expect("subscribe");
    sns.publish()
        .topic_arn(&topic_arn)
        .message("drift detected")
        .send()
        .await
        .expect("publish");
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("receive");
    let body = received.messages()[0].body().expect("body").to_string();
    assert!(body.contains("drift detected"), "{body}");
    let sgs = aws_sdk_ec2::Client::new(&conf)
        .describe_security_groups()
        .send()
        .await
        .expect("ec2");
    assert!(!sgs.security_groups().is_empty());

    let stats = emu.stats().await.expect("stats");
    for key in [
        "sagemaker:ListDomains",
        "sso-admin:ListInstances",
        "identitystore:ListGroups",
        "dynamodb:ListTables",
        "sns:CreateTopic",
        "sns:Publish",
        "sqs:CreateQueue",
        "sqs:ReceiveMessage",
        "ec2:DescribeSecurityGroups",
    ] {
        assert_eq!(stats.get(key), Some(&1), "{key} in {stats:?}");
    }
}

// ------------------------------------------------------------------------- faults

#[tokio::test]
async fn throttling_is_returned_as_the_services_throttling_error_and_retried() {
    let emu = emulator().await;
    emu.set_faults(&[
        FaultRule::new("sagemaker", "ListUserProfiles").with_throttle(1.0),
        FaultRule::new("dynamodb", "*").with_throttle(1.0),
        FaultRule::new("identitystore", "ListUsers").with_throttle(1.0),
    ])
    .await
    .expect("faults");
    let err = sagemaker_no_retry(&emu)
        .list_user_profiles()
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(code(&err), "ThrottlingException");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));

    // The SDK classifies it as throttling: a 400 is retried only for throttling codes.
    let err = sagemaker_fast_retry(&emu)
        .list_user_profiles()
        .send()
        .await
        .expect_err("still throttled");
    assert_eq!(code(&err), "ThrottlingException");
    let stats = emu.stats().await.expect("stats");
    assert_eq!(
        stats.get("sagemaker:ListUserProfiles"),
        Some(&4),
        "1 + 3 attempts: {stats:?}"
    );
    // Other operations are untouched.
    sagemaker_no_retry(&emu)
        .list_domains()
        .send()
        .await
        .expect("not throttled");

    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&emu.sdk_config())
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .build(),
    );
    let err = ddb.list_tables().send().await.expect_err("ddb throttled");
    assert_eq!(code(&err), "ThrottlingException");
    let ids = aws_sdk_identitystore::Client::from_conf(
        aws_sdk_identitystore::config::Builder::from(&emu.sdk_config())
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .build(),
    );
    let err = ids
        .list_users()
        .identity_store_id(warden_tests::fixture::STORE)
        .send()
        .await
        .expect_err("identitystore throttled");
    assert_eq!(code(&err), "ThrottlingException");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_throttling_exception())
    );

    let faults = emu.injected_faults().await.expect("faults");
    assert_eq!(faults.get("sagemaker:ListUserProfiles:throttle"), Some(&4));
}

#[tokio::test]
async fn server_errors_are_5xx_and_retried() {
    let emu = emulator().await;
    emu.set_faults(&[FaultRule::new("sagemaker", "*").with_error(1.0)])
        .await
        .expect("faults");
    let err = sagemaker_no_retry(&emu)
        .list_domains()
        .send()
        .await
        .expect_err("5xx");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(code(&err), "InternalFailure");
    sagemaker_fast_retry(&emu)
        .list_domains()
        .send()
        .await
        .expect_err("5xx again");
    let stats = emu.stats().await.expect("stats");
    assert_eq!(stats.get("sagemaker:ListDomains"), Some(&4), "{stats:?}");
    emu.set_faults(&[]).await.expect("clear");
    sagemaker_no_retry(&emu)
        .list_domains()
        .send()
        .await
        .expect("healthy again");
}

#[tokio::test]
async fn latency_switch_delays_matching_calls() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    sm.list_domains().send().await.expect("warm up");
    emu.set_faults(&[FaultRule::new("sagemaker", "ListDomains").with_latency_ms(400)])
        .await
        .expect("faults");
    let started = Instant::now();
    sm.list_domains().send().await.expect("slow call");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

async fn throttle_pattern(emu: &Emulator, calls: usize) -> Vec<bool> {
    let sm = sagemaker_no_retry(emu);
    let mut pattern = Vec::with_capacity(calls);
    for _ in 0..calls {
        pattern.push(sm.list_user_profiles().send().await.is_err());
    }
    pattern
}

#[tokio::test]
async fn faults_are_reproducible_with_a_seed() {
    let rule = FaultRule::new("sagemaker", "ListUserProfiles").with_throttle(0.5);
    // Same seed: rules given at start-up (--fault) and through the control endpoint.
    let a = start(EmulatorOptions {
        seed: 7,
        faults: vec![rule.clone()],
        ..EmulatorOptions::default()
    })
    .await;
    let b = start(EmulatorOptions {
        seed: 7,
        ..EmulatorOptions::default()
    })
    .await;
    b.set_faults(std::slice::from_ref(&rule))
        .await
        .expect("faults");
    let first = throttle_pattern(&a, 40).await;
    let second = throttle_pattern(&b, 40).await;
    assert_eq!(first, second);
    let throttled = first.iter().filter(|t| **t).count();
    assert!(
        (5..=35).contains(&throttled),
        "about half throttled: {throttled}"
    );
    // Another seed, another pattern.
    b.set_seed(8).await.expect("seed");
    let third = throttle_pattern(&b, 40).await;
    assert_ne!(first, third);
    // Re-seeding with 7 replays the first pattern.
    b.set_seed(7).await.expect("seed");
    assert_eq!(throttle_pattern(&b, 40).await, first);
}

// ------------------------------------------------------------------------- control

#[tokio::test]
async fn stats_count_every_aws_call() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "stats", AuthMode::Iam).await;
    for name in ["a", "b", "c"] {
        create_profile(&sm, &domain, name).await;
    }
    let _ = sm
        .describe_user_profile()
        .domain_id(&domain)
        .user_profile_name("zzz")
        .send()
        .await;
    sm.list_user_profiles().send().await.expect("list");
    let stats = emu.stats().await.expect("stats");
    let expected: std::collections::BTreeMap<String, u64> = [
        ("sagemaker:CreateDomain", 1),
        ("sagemaker:CreateUserProfile", 3),
        ("sagemaker:DescribeUserProfile", 1),
        ("sagemaker:ListUserProfiles", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(stats, expected);
}

#[tokio::test]
async fn reset_clears_state_faults_and_stats() {
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "reset", AuthMode::Iam).await;
    create_profile(&sm, &domain, "alice").await;
    emu.set_faults(&[FaultRule::new("sagemaker", "ListDomains").with_throttle(1.0)])
        .await
        .expect("faults");
    emu.reset().await.expect("reset");
    assert!(emu.stats().await.expect("stats").is_empty());
    let domains = sagemaker_no_retry(&emu)
        .list_domains()
        .send()
        .await
        .expect("faults cleared");
    assert!(domains.domains().is_empty());
    let profiles = sm.list_user_profiles().send().await.expect("list");
    assert!(profiles.user_profiles().is_empty());
    let (status, body) = emu
        .raw_request("GET", "/_emulator/faults", "")
        .await
        .expect("faults");
    assert_eq!((status, body.as_str()), (200, "[]"));

    // moto's own reset clears the extension state too.
    let domain = create_domain(&sm, "reset2", AuthMode::Iam).await;
    create_profile(&sm, &domain, "bob").await;
    let (status, _) = emu
        .raw_request("POST", "/moto-api/reset", "")
        .await
        .expect("moto reset");
    assert_eq!(status, 200);
    let profiles = sm.list_user_profiles().send().await.expect("list");
    assert!(profiles.user_profiles().is_empty());
    let err = sm
        .describe_user_profile()
        .domain_id(&domain)
        .user_profile_name("bob")
        .send()
        .await
        .expect_err("gone");
    assert_eq!(code(&err), "ResourceNotFound");
}

#[tokio::test]
async fn control_endpoint_rejects_bad_input() {
    let emu = emulator().await;
    let (status, _) = emu
        .raw_request(
            "POST",
            "/_emulator/faults",
            r#"[{"service":"*","operation":"*","throttle":2}]"#,
        )
        .await
        .expect("request");
    assert_eq!(status, 400);
    let (status, _) = emu
        .raw_request("GET", "/_emulator/nope", "")
        .await
        .expect("request");
    assert_eq!(status, 404);
    emu.configure(Some(Duration::from_millis(10)), None)
        .await
        .expect("configure");
    let (status, body) = emu
        .raw_request("GET", "/_emulator/config", "")
        .await
        .expect("config");
    assert_eq!(status, 200);
    assert!(body.contains("\"status_delay\": 0.01"), "{body}");
}

// ------------------------------------------------------------------------- dynamodb

async fn ledger_table(ddb: &aws_sdk_dynamodb::Client) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    ddb.create_table()
        .table_name("ledger")
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attr"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
}

#[tokio::test]
async fn dynamodb_conditional_writes_stay_atomic_under_concurrency() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let emu = emulator().await;
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&emu.sdk_config())
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .build(),
    );
    ledger_table(&ddb).await;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..16 {
        let ddb = ddb.clone();
        writers.spawn(async move {
            ddb.put_item()
                .table_name("ledger")
                .item("pk", AttributeValue::S("user#alice".into()))
                .item("writer", AttributeValue::N(writer.to_string()))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await
                .map_err(|e| code(&e))
        });
    }
    let mut won = 0;
    while let Some(result) = writers.join_next().await {
        match result.expect("task") {
            Ok(_) => won += 1,
            Err(code) => assert_eq!(code, "ConditionalCheckFailedException"),
        }
    }
    assert_eq!(won, 1, "exactly one conditional create wins");
}

#[tokio::test]
async fn dynamodb_transactions_are_idempotent_per_client_request_token() {
    use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
    let emu = emulator().await;
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config());
    ledger_table(&ddb).await;
    let bump = |amount: &str| {
        TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name("ledger")
                    .key("pk", AttributeValue::S("counter".into()))
                    .update_expression("ADD n :d")
                    .expression_attribute_values(":d", AttributeValue::N(amount.into()))
                    .build()
                    .expect("update"),
            )
            .build()
    };
    for _ in 0..2 {
        ddb.transact_write_items()
            .client_request_token("event-123")
            .transact_items(bump("1"))
            .send()
            .await
            .expect("transaction");
    }
    let item = ddb
        .get_item()
        .table_name("ledger")
        .key("pk", AttributeValue::S("counter".into()))
        .send()
        .await
        .expect("get");
    assert_eq!(
        item.item().and_then(|i| i.get("n")),
        Some(&AttributeValue::N("1".into())),
        "a repeated token applies once"
    );
    let err = ddb
        .transact_write_items()
        .client_request_token("event-123")
        .transact_items(bump("5"))
        .send()
        .await
        .expect_err("same token, other parameters");
    assert_eq!(code(&err), "IdempotentParameterMismatchException");
    // Without a shared token (the SDK generates one per call) both apply.
    for _ in 0..2 {
        ddb.transact_write_items()
            .transact_items(bump("1"))
            .send()
            .await
            .expect("transaction");
    }
    let item = ddb
        .get_item()
        .table_name("ledger")
        .key("pk", AttributeValue::S("counter".into()))
        .send()
        .await
        .expect("get");
    assert_eq!(
        item.item().and_then(|i| i.get("n")),
        Some(&AttributeValue::N("3".into()))
    );
}

/// `UserStatus` is reported by DescribeUser and ListUsers, and the control endpoint (standing
/// in for the console's DisableUser/EnableUser) changes it.
#[tokio::test]
async fn identity_store_reports_user_status_and_the_console_switch_changes_it() {
    let emulator = Emulator::start().await.expect("emulator");
    let client = aws_sdk_identitystore::Client::new(&emulator.sdk_config());
    let store = "d-9067c0ffee";
    let user = client
        .create_user()
        .identity_store_id(store)
        .user_name("jane")
        .display_name("Jane")
        .name(
            aws_sdk_identitystore::types::Name::builder()
                .given_name("Jane")
                .family_name("Doe")
                .build(),
        )
        .send()
        .await
        .expect("create user")
        .user_id()
        .to_owned();
    let status = |c: aws_sdk_identitystore::Client, u: String| async move {
        c.describe_user()
            .identity_store_id(store)
            .user_id(u)
            .send()
            .await
            .expect("describe")
            .user_status()
            .cloned()
    };
    use aws_sdk_identitystore::types::UserStatus;
    assert_eq!(
        status(client.clone(), user.clone()).await,
        Some(UserStatus::Enabled)
    );
    emulator
        .set_user_status(store, &user, false)
        .await
        .expect("disable");
    assert_eq!(
        status(client.clone(), user.clone()).await,
        Some(UserStatus::Disabled)
    );
    let listed = client
        .list_users()
        .identity_store_id(store)
        .send()
        .await
        .expect("list");
    assert_eq!(listed.users()[0].user_status(), Some(&UserStatus::Disabled));
    emulator
        .set_user_status(store, &user, true)
        .await
        .expect("enable");
    assert_eq!(
        status(client.clone(), user.clone()).await,
        Some(UserStatus::Enabled)
    );
    let unknown = emulator
        .set_user_status(store, "4b1a2c3d-1111-2222-3333-444455556666", false)
        .await;
    assert!(unknown.is_err(), "an unknown user is refused");
}

// ------------------------------------------------------------------- AWS truth, typed fields

/// The new truths reach the Rust SDK as its typed errors and fields (the product reads
/// codes and typed fields, never messages). Behaviour details: tests/emulator/tests (pytest).
#[tokio::test]
async fn model_validation_and_typed_errors_reach_the_rust_sdk() {
    use aws_sdk_identitystore::types::ResourceType;
    let emu = emulator().await;
    let sm = sagemaker(&emu);
    let domain = create_domain(&sm, "truth", AuthMode::Iam).await;
    let err = sm
        .create_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .tags(tag("team", "r&d"))
        .send()
        .await
        .expect_err("tag value outside the TagValue pattern");
    assert_eq!(code(&err), "ValidationException");
    assert!(
        message(&err)
            .starts_with("1 validation error detected: Value 'r&d' at 'tags.1.member.value'"),
        "{}",
        message(&err)
    );
    let err = sm
        .create_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .user_settings(
            UserSettings::builder()
                .set_security_groups(Some((0..6).map(|i| format!("sg-{i}")).collect()))
                .build(),
        )
        .send()
        .await
        .expect_err("six security groups");
    assert_eq!(code(&err), "ValidationException");

    let ids = aws_sdk_identitystore::Client::new(&emu.sdk_config());
    let err = ids
        .list_users()
        .identity_store_id("d-0123456789")
        .send()
        .await
        .expect_err("unknown store");
    let service = err.into_service_error();
    assert!(service.is_resource_not_found_exception(), "{service:?}");
    if let aws_sdk_identitystore::operation::list_users::ListUsersError::ResourceNotFoundException(
        e,
    ) = &service
    {
        assert_eq!(e.resource_type(), Some(&ResourceType::IdentityStore));
    }
    let err = ids
        .list_users()
        .identity_store_id(warden_tests::fixture::STORE)
        .max_results(101)
        .send()
        .await
        .expect_err("MaxResults over 100");
    assert!(err.into_service_error().is_validation_exception());
}

#[tokio::test]
async fn dynamodb_conflicts_and_throttling_inside_transactions_are_typed() {
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
    let emu = emulator().await;
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&emu.sdk_config())
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .build(),
    );
    ledger_table(&ddb).await;
    let put = |pk: &str| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name("ledger")
                    .item("pk", AttributeValue::S(pk.into()))
                    .build()
                    .expect("put"),
            )
            .build()
    };
    let (status, body) = emu
        .raw_request(
            "POST",
            "/_emulator/dynamodb/pending-item",
            r#"{"TableName":"ledger","Key":{"pk":{"S":"u1"}},"Seconds":30}"#,
        )
        .await
        .expect("control");
    assert_eq!(status, 200, "{body}");
    let err = ddb
        .put_item()
        .table_name("ledger")
        .item("pk", AttributeValue::S("u1".into()))
        .send()
        .await
        .expect_err("item in a pending transaction");
    assert!(
        err.into_service_error().is_transaction_conflict_exception(),
        "PutItem on a pending item"
    );
    let err = ddb
        .transact_write_items()
        .transact_items(put("u2"))
        .transact_items(put("u1"))
        .send()
        .await
        .expect_err("transaction with a pending item");
    let service = err.into_service_error();
    let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancelled) = &service else {
        panic!("expected TransactionCanceledException, got {service:?}");
    };
    let codes: Vec<_> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or_default().to_string())
        .collect();
    assert_eq!(codes, ["None", "TransactionConflict"]);

    emu.set_faults(&[FaultRule::new("dynamodb", "TransactWriteItems").with_throttle(1.0)])
        .await
        .expect("faults");
    let err = ddb
        .transact_write_items()
        .transact_items(put("u3"))
        .send()
        .await
        .expect_err("throttled inside the transaction");
    let service = err.into_service_error();
    let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancelled) = &service else {
        panic!("expected TransactionCanceledException, got {service:?}");
    };
    assert_eq!(
        cancelled.cancellation_reasons()[0].code(),
        Some("ThrottlingError")
    );
}

#[tokio::test]
async fn sns_publish_limits_are_typed_errors() {
    let emu = emulator().await;
    let sns = aws_sdk_sns::Client::new(&emu.sdk_config());
    let topic = sns
        .create_topic()
        .name("alerts")
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .expect("arn")
        .to_string();
    let err = sns
        .publish()
        .topic_arn(&topic)
        .subject("drift\nresolved")
        .message("m")
        .send()
        .await
        .expect_err("line break in the subject");
    assert!(err.into_service_error().is_invalid_parameter_exception());
    let err = sns
        .publish()
        .topic_arn(&topic)
        .message("m")
        .message_attributes(
            "AWS.trace",
            aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("x")
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect_err("reserved attribute name");
    assert!(
        err.into_service_error()
            .is_invalid_parameter_value_exception()
    );
    sns.publish()
        .topic_arn(&topic)
        .subject("s".repeat(99))
        .message("m")
        .send()
        .await
        .expect("99 characters are fine");
}
