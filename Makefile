# rollout.windows: `make demo` and `make test` do all set-up themselves.
SHELL := /bin/bash
ROOT := $(CURDIR)
BIN := $(ROOT)/.venv/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.tmp/collections
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
PYTEST := $(BIN)/python -m pytest
STAMP := .venv/.setup-done
LAYERS := unit integration molecule sanity lint ps-parse

.PHONY: setup test $(LAYERS) changelog build clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt tools/setup.sh
	tools/setup.sh
	touch $@

## Every layer, with a summary; fails when any layer fails.
test: setup
	tools/run_layers.sh $(LAYERS)

unit: setup
	$(PYTEST) tests/unit tests/lab

integration: setup
	$(PYTEST) tests/integration; rc=$$?; if [ $$rc -eq 5 ]; then echo "integration: no tests collected"; rc=0; fi; exit $$rc

molecule: setup
	tools/molecule.sh

sanity: setup
	tools/sanity.sh

lint: setup
	ansible-lint --profile production --offline
	ruff check .
	ruff format --check .
	antsibull-changelog lint

ps-parse: setup
	$(BIN)/python tools/ps_parse.py

## CHANGELOG.md from every fragment in changelogs/fragments (kept until release).
changelog: setup
	tools/changelog.sh

## The collection tarball in .tmp/dist.
build: setup
	mkdir -p .tmp/dist && ansible-galaxy collection build --force --output-path .tmp/dist

clean:
	rm -rf .tmp .venv .ruff_cache .pytest_cache .hypothesis
