# `make demo`: boot a VM standing for a fresh DGX-A100, bring it up with site.yml, roll out two
# example tenants with tenant.yml, print their handoff notes and the allocation table, and leave
# it running. `make demo-stop` ends it. See docs/testbed.md.
.PHONY: demo demo-stop vm-image

demo: setup
	scripts/vm/demo.sh

demo-stop:
	scripts/vm/demo.sh stop

# Build (or find in .cache/vm) the test-bed VM image only.
vm-image:
	scripts/vm/build-image.sh
