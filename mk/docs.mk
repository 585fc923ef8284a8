# Documentation generated from the roles' argument specs.
#   make docs         write docs/variables.md from roles/*/meta/argument_specs.yml
#   make docs-check   fail when docs/variables.md is stale
.PHONY: docs docs-check

docs:
	$(VENV)/bin/python scripts/gen-role-docs.py

docs-check:
	$(VENV)/bin/python scripts/gen-role-docs.py --check
