# gpulab.dgx — developer commands.
#   make setup   install system packages, the pinned virtualenv, link the collection,
#                start dockerd when none runs, build the local base images
#   make test    lint, sanity, unit, then end-to-end beside integration and molecule (what CI runs)
#   make quick   make test without the end-to-end suite on the test-bed VM
#   make e2e     the end-to-end suite alone (docs/testbed.md)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ANSIBLE_ROLES_PATH := $(CURDIR)/roles
export PYTHONDONTWRITEBYTECODE := 1

COLLECTION_LINK := .collections/ansible_collections/gpulab/dgx
PYTEST := $(VENV)/bin/pytest

.PHONY: help setup system venv collection dockerd images test quick lint sanity unit integration molecule e2e bench

help:
	@sed -n '2,6p' Makefile

setup: system venv collection dockerd images

system:
	scripts/setup-system.sh

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

collection:
	mkdir -p $(dir $(COLLECTION_LINK))
	ln -sfn $(CURDIR) $(COLLECTION_LINK)

dockerd:
	scripts/dockerd.sh start

images: dockerd
	scripts/build-base-images.sh

# The end-to-end suite runs beside integration and molecule (scripts/test-overlapped.sh).
test:
	scripts/test-all.sh

quick: lint sanity unit integration molecule

lint:
	ansible-lint

sanity:
	scripts/sanity.sh

unit:
	$(PYTEST) tests/unit

# The tenant tests run a second time through the batch module (gpulab.dgx.tenants with a one-item
# list, tests/integration/tenant/tenant_helpers.py): every behaviour of the single path holds for it.
integration: dockerd
	$(PYTEST) tests/integration
	GPULAB_TENANT_PATH=batch GPULAB_PROPERTY_EXAMPLES=20 $(PYTEST) tests/integration/tenant \
	  --ignore=tests/integration/tenant/test_tenants_batch.py --ignore=tests/integration/tenant/test_tenant_role.py

molecule: dockerd
	scripts/molecule-all.sh

e2e: dockerd
	scripts/e2e.sh

bench:
	$(VENV)/bin/python benchmarks/placement_bench.py

# Area-specific targets (demo, benchmarks) live in mk/*.mk.
-include mk/*.mk
