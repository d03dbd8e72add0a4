# Two commands for a newcomer (see README.md):
#   make run    build and start the local Verify server (demo) and the app
#   make test   every check and test: formatting, lints, unit, end-to-end, the real window,
#               the installed package
# And for releases:
#   make package   the .deb and .rpm (release build) in $(PACKAGE_TARGET_DIR)/packages
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

# The local Verify server the app talks to by default during development.
VERIFY_LISTEN ?= 127.0.0.1:8443
VERIFY_DATA_DIR ?= $(HOME)/.local/share/countersign-verify-server

# Where the release build for the packages goes: cargo's own target directory unless set, so
# `cargo build --release` and `make package` share one build.
PACKAGE_TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)

.PHONY: help run test deps deps-test ui build lint test-rust test-api test-ui test-fuzz package test-package

help:
	@echo "make run    build and start verify-server (demo) and the Countersign app"
	@echo "make test   run every check and test (installs what it needs)"
	@echo "make package  build the .deb and .rpm (release build)"

deps:
	@scripts/install-deps.sh build

deps-test:
	@scripts/install-deps.sh test

ui:
	npm --prefix ui run build

build: ui
	$(CARGO) build --workspace

run: deps build
	@scripts/run-demo.sh "$(VERIFY_LISTEN)" "$(VERIFY_DATA_DIR)"

lint: ui
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	npm --prefix ui run check

test-rust: build
	scripts/with-keyring.sh $(CARGO) test --workspace

# Schemathesis against verify-server from Twilio's OpenAPI file: no 5xx, no dropped connection.
test-api: build
	scripts/api-conformance.sh

# Each fuzz target of crates/core/fuzz for FUZZ_SECONDS (default 20) from its seeds; installs
# cargo-fuzz if missing. The first run builds the targets (minutes), later ones reuse them.
test-fuzz:
	scripts/fuzz.sh

test-ui: build
	scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x900x24" \
	  node --test --test-timeout=180000 --test-force-exit tests/ui/

# Installs the .deb on this machine (root or sudo) and removes it again; see the script.
test-package: deps-test build package
	scripts/test-package.sh "$(PACKAGE_TARGET_DIR)/packages"

package: deps
	CARGO_TARGET_DIR="$(PACKAGE_TARGET_DIR)" scripts/package.sh

test: deps-test
	$(MAKE) lint
	npm --prefix ui test
	$(MAKE) test-rust
	$(MAKE) test-api
	$(MAKE) test-fuzz
	$(MAKE) test-ui
	$(MAKE) test-package
