//! Every build of the workspace resolves each third-party crate with the same features as
//! `cargo test --workspace`, so that `make demo`, `make check-policy` and the functions' builds
//! reuse the AWS SDKs that `make test` compiled, and the other way round.
//!
//! Cargo unifies features per invocation: a dev-dependency (criterion, proptest) that switches on
//! a feature of a shared crate (`either/use_std` below `aws-runtime`) makes a build without
//! dev-dependencies compile that crate and every crate above it, every aws-sdk-*, again.
//! `workspace-hack/Cargo.toml` switches those features on for every build; this test fails when a
//! dependency change makes two builds disagree again, and says what to add there.
//!
//! It reads `cargo tree` (no compilation, a second or two each): the same feature resolver that
//! `cargo build` and `cargo test` use, on the host target.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// The reference: `cargo test --workspace` and `make lint` (all members, dev-dependencies on).
const REFERENCE: (&str, &[&str]) = (
    "cargo test --workspace",
    &["--workspace", "-e", "normal,build,dev"],
);

/// The other builds people and the Makefile run.
const BUILDS: &[(&str, &[&str])] = &[
    (
        "make demo (cargo run -p warden-tests --bin demo), bench_sweep, bench_drift",
        &["-p", "warden-tests", "-e", "normal,build"],
    ),
    (
        "make check-policy and the operator CLI (cargo run -p studio-warden --bin studio-warden)",
        &["-p", "studio-warden", "-e", "normal,build"],
    ),
    (
        "the functions (cargo build -p membership-sync -p compliance-sweep, cargo lambda)",
        &[
            "-p",
            "membership-sync",
            "-p",
            "compliance-sweep",
            "-e",
            "normal,build",
        ],
    ),
    (
        "cargo test -p warden-tests",
        &["-p", "warden-tests", "-e", "normal,build,dev"],
    ),
    (
        "cargo test -p studio-warden, cargo bench",
        &["-p", "studio-warden", "-e", "normal,build,dev"],
    ),
    (
        "cargo test -p membership-sync",
        &["-p", "membership-sync", "-e", "normal,build,dev"],
    ),
];

/// Third-party package ("name vX.Y.Z", with "(proc-macro)" if it is one) -> the feature sets it
/// is built with (a crate used both by build scripts and by the code may have two).
type Resolution = BTreeMap<String, BTreeSet<String>>;

fn resolve(args: &[&str]) -> Resolution {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .current_dir(root)
        .args([
            "tree",
            "--locked",
            "--offline",
            "--prefix",
            "none",
            "--format",
            "{p}|{f}",
        ])
        .args(args)
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut packages = Resolution::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let line = line.trim_end_matches(" (*)");
        let Some((package, features)) = line.split_once('|') else {
            continue;
        };
        // Workspace members (path packages) are ours to compile; only third-party crates count.
        if package.contains(" (/") || package.contains(" (file://") {
            continue;
        }
        packages
            .entry(package.to_owned())
            .or_default()
            .insert(features.to_owned());
    }
    packages
}

#[test]
fn every_build_resolves_third_party_crates_with_the_features_of_the_test_build() {
    let reference = resolve(REFERENCE.1);
    assert!(
        reference
            .keys()
            .any(|p| p.starts_with("aws-sdk-sagemaker ")),
        "cargo tree output not understood: {reference:?}"
    );
    let mut problems = Vec::new();
    for (build, args) in BUILDS {
        let packages = resolve(args);
        for (package, features) in &packages {
            let Some(expected) = reference.get(package) else {
                continue;
            };
            if features != expected {
                problems.push(format!(
                    "  {package}: {build} builds it with features {features:?}, {} with {expected:?}",
                    REFERENCE.0
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "builds disagree on features, so one of them would compile these crates (and every crate \
         above them, the AWS SDKs included) again:\n{}\nAdd the missing features to the crate's \
         line in workspace-hack/Cargo.toml [dependencies] (or add a line for it), then re-run.",
        problems.join("\n")
    );
}
