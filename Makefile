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

.PHONY: help venv rust-targets lint test test-rust test-infra demo emulator check-policy package deploy deploy-fn bench clean-venv

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# The virtual environment is rebuilt only when the pinned lock file changes.
$(VENV)/.installed: requirements.lock
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $@

venv: $(VENV)/.installed ## create .venv with the pinned Python packages (moto, pulumi, pytest, cargo-lambda)

rust-targets: ## add the aarch64 standard library that `cargo lambda build --arm64` needs
	@rustup target list --installed | grep -qx $(LAMBDA_TARGET) || rustup target add $(LAMBDA_TARGET)

lint: ## rustfmt check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

test-rust: venv ## Rust unit, property, emulator and scenario tests
	cargo test --workspace --locked

test-infra: venv ## the Pulumi stack's tests, with Pulumi's mocks
	$(WARDEN_PYTHON) -m pytest -q infra/tests

test: lint test-rust test-infra ## everything CI runs

demo: venv ## the story on the local emulator: onboarding, offboarding, drift
	cargo run --quiet --locked -p warden-tests --bin demo

emulator: venv ## run the local AWS emulator in the foreground on EMULATOR_PORT
	$(VENV)/bin/python tests/emulator/emulator.py --port $(EMULATOR_PORT)

check-policy: ## validate a policy file: make check-policy POLICY=path/to/policy.toml
	cargo run --quiet --locked -p studio-warden --bin check-policy -- $(POLICY)

package: venv rust-targets ## build both functions for arm64 as zips, each with the policy inside
	cargo run --quiet --locked -p studio-warden --bin check-policy -- $(POLICY)
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
	cargo run --quiet --locked -p warden-tests --bin bench_sweep -- --users $${BENCH_USERS:-1000} --latency-ms 5
	cargo run --quiet --locked -p warden-tests --bin bench_drift -- --users $${BENCH_USERS:-1000}

clean-venv: ## remove the virtual environment
	rm -rf $(VENV)
