# Two commands for a newcomer (see README.md):
#   make run    build and start the local Verify server (demo) and the app
#   make test   every check and test: formatting, lints, unit, end-to-end, the real window
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

# The local Verify server the app talks to by default during development.
VERIFY_LISTEN ?= 127.0.0.1:8443
VERIFY_DATA_DIR ?= $(HOME)/.local/share/countersign-verify-server

.PHONY: help run test deps deps-test ui build lint test-rust test-ui

help:
	@echo "make run    build and start verify-server (demo) and the Countersign app"
	@echo "make test   run every check and test (installs what it needs)"

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

test-ui: build
	scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x900x24" \
	  node --test --test-timeout=180000 --test-force-exit tests/ui/

test: deps-test
	$(MAKE) lint
	npm --prefix ui test
	$(MAKE) test-rust
	$(MAKE) test-ui
