# studio-warden: every entry point a person or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    ?= .venv
POLICY  ?= examples/policy.toml
EMULATOR_PORT ?= 5055
FN      ?= membership-sync
FUNCTIONS := membership-sync compliance-sweep
LAMBDA_TARGET := aarch64-unknown-linux-gnu

export WARDEN_PYTHON := $(abspath $(VENV))/bin/python
CARGO_LAMBDA := $(abspath $(VENV))/bin/cargo-lambda
# cargo-lambda finds zig (the cross linker, from the ziglang package) through the venv's python.
VENV_PATH := PATH=$(abspath $(VENV))/bin:$$PATH

# One build for lint and tests. `cargo clippy` is `cargo check` with clippy-driver as the
# workspace's rustc wrapper (RUSTC_WORKSPACE_WRAPPER) and the lint flags in CLIPPY_ARGS; a check
# build would compile every AWS SDK once more in check mode (metadata only, which `cargo test`
# cannot reuse). With the same wrapper and flags on `cargo test`, clippy lints the workspace's own
# crates while they are compiled for the tests, and the dependencies (built by plain rustc, not
# by the wrapper) are the very artifacts `make demo` and `make check-policy` use. `lint` and
# `test-rust` use the same environment, so `test-rust` after `lint` compiles nothing.
CLIPPY_DRIVER = $(shell rustc --print sysroot)/bin/clippy-driver
LINT_ENV = RUSTC_WORKSPACE_WRAPPER=$(CLIPPY_DRIVER) CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# The builds whose dependencies must be shared (`make check-build-reuse` proves it).
TEST_BUILD = $(LINT_ENV) cargo test --workspace --all-targets --locked --no-run
DEMO_BUILD = cargo build --locked -p warden-tests --bin demo
POLICY_BUILD = cargo build --locked -p studio-warden --bin studio-warden

# A one-line notice before a build that will compile the AWS SDKs from scratch.
TARGET_DIR = $(or $(CARGO_TARGET_DIR),target)
define sdk-notice
@ls $(TARGET_DIR)/debug/deps/libaws_sdk_ec2-*.rlib >/dev/null 2>&1 || echo "First build: compiling the AWS SDKs, about 10 minutes on 2 cores (once: make test, make demo and make check-policy share them)."
endef

.PHONY: help venv rust-targets lint test test-rust test-infra test-emulator demo emulator check-policy check-build-reuse package deploy deploy-fn bench clean-venv

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# The virtual environment is rebuilt only when the pinned lock file changes.
$(VENV)/.installed: requirements.lock
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $@

venv: $(VENV)/.installed ## create .venv with the pinned Python packages (moto, pulumi, pytest, cargo-lambda)

rust-targets: ## add the aarch64 standard library that `cargo lambda build --arm64` needs
	@rustup target list --installed | grep -qx $(LAMBDA_TARGET) || rustup target add $(LAMBDA_TARGET)

lint: ## rustfmt check, then clippy -D warnings on every target while building them for the tests
	cargo fmt --all -- --check
	@test -x $(CLIPPY_DRIVER) || { echo "clippy-driver not found in $$(rustc --print sysroot)/bin: rustup component add clippy"; exit 1; }
	$(sdk-notice)
	$(TEST_BUILD)

test-rust: venv ## Rust unit, property, emulator and scenario tests (lints too: same build as lint)
	$(sdk-notice)
	$(LINT_ENV) cargo test --workspace --locked

test-infra: venv ## the Pulumi stack's tests, with Pulumi's mocks
	$(WARDEN_PYTHON) -m pytest -q infra/tests

test-emulator: venv ## the emulator's AWS-truth tests (boto3 against the emulator, each behaviour with its source)
	$(WARDEN_PYTHON) -m pytest -q tests/emulator/tests

test: lint test-rust test-infra test-emulator ## everything CI runs

demo: venv ## the story on the local emulator: onboarding, offboarding, drift
	$(sdk-notice)
	cargo run --locked -p warden-tests --bin demo

emulator: venv ## run the local AWS emulator in the foreground on EMULATOR_PORT
	$(VENV)/bin/python tests/emulator/emulator.py --port $(EMULATOR_PORT)

check-policy: ## validate a policy file: make check-policy POLICY=path/to/policy.toml (studio-warden check-policy)
	$(sdk-notice)
	cargo run --locked -p studio-warden --bin studio-warden -- check-policy $(POLICY)

check-build-reuse: ## prove on the current target dir that test, demo and check-policy (the studio-warden CLI) builds share every dependency
	@# Bring the test build up to date (whatever that compiles), then each other build must
	@# compile nothing but the workspace's own crates, and the test build again nothing at all.
	$(TEST_BUILD)
	scripts/expect-fresh-deps "make demo" $(DEMO_BUILD)
	scripts/expect-fresh-deps "make check-policy" $(POLICY_BUILD)
	scripts/expect-fresh-deps "make test" $(TEST_BUILD)

package: venv rust-targets ## build both functions for arm64 as zips, each with the policy inside
	cargo run --locked -p studio-warden --bin studio-warden -- check-policy $(POLICY)
	mkdir -p target/lambda-policy && cp $(POLICY) target/lambda-policy/policy.toml
	cd target/lambda-policy && $(VENV_PATH) $(CARGO_LAMBDA) lambda build --manifest-path ../../Cargo.toml --release --arm64 --output-format zip --lambda-dir ../lambda $(addprefix --bin ,$(FUNCTIONS)) --include policy.toml
	@for f in $(FUNCTIONS); do ls -l target/lambda/$$f/bootstrap.zip; done

deploy: package ## package, then pulumi up (needs the Pulumi CLI and AWS credentials)
	$(MAKE) -C infra deploy

deploy-fn: venv rust-targets ## push code to an existing function: make deploy-fn FN=membership-sync
	$(VENV_PATH) $(CARGO_LAMBDA) lambda build --release --arm64 --bin $(FN)
	$(MAKE) -C infra deploy-fn FN=$(FN) VENV=$(abspath $(VENV))

bench: venv ## benchmarks (criterion at 50k users; cold start, RSS, zip size; sweep scale on the emulator); see BENCHMARKS.md
	cargo build --release --locked -p membership-sync -p compliance-sweep
	@# The bench profile inherits release, but cargo builds bench dependencies with panic=unwind,
	@# so nothing of the release build is reused; fat LTO over every SDK would only slow the link.
	CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 cargo bench --locked -p studio-warden --bench planner --bench drift
	$(WARDEN_PYTHON) benches/coldstart.py --runs $${BENCH_RUNS:-30}
	@# Per-event overhead (receipt -> CreateUserProfile) and a large sweep's peak RSS: the release
	@# binaries against the Runtime API harness and the emulator.
	$(WARDEN_PYTHON) benches/on_emulator.py event --runs $${BENCH_RUNS:-30} --warm 2
	$(WARDEN_PYTHON) benches/on_emulator.py sweep --users $${BENCH_RSS_USERS:-3000}
	cargo run --locked -p warden-tests --bin bench_sweep -- --users $${BENCH_USERS:-1000} --latency-ms 5
	cargo run --locked -p warden-tests --bin bench_drift -- --users $${BENCH_USERS:-1000}
	@# An organisation: accounts x users at a per-account SageMaker rate, fanned out to workers, against the throttle bound.
	cargo run --locked -p warden-tests --bin bench_org -- --accounts $${BENCH_ACCOUNTS:-30} --users $${BENCH_ORG_USERS:-1000} --rate $${BENCH_ORG_RATE:-8} --workers $${BENCH_ACCOUNTS:-30}

clean-venv: ## remove the virtual environment
	rm -rf $(VENV)
