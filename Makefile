# `make demo` and `make test` work on a fresh machine with only Python and apt: they set up
# everything they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell $(PYTHON) -c 'import hashlib,sys;print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest()[:12])')

.PHONY: setup bytecode system-packages demo cluster-demo test lint fuzz bench bench-national browser-full clean

setup: system-packages $(STAMP) bytecode

# The editable install compiles nothing, and with PYTHONDONTWRITEBYTECODE set (as on this machine)
# Python caches nothing it compiles: every `gateway` process compiled ~100 of our modules from
# source, 0.07 s of each command's start-up. A wheel install compiles them; this does the same for
# the checkout (only what changed since the last run).
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 gateway audit

system-packages:
	@scripts/install-system-packages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: setup
	$(BIN)/gateway demo

# The national day on the several-node set-up (issue 24): `gateway cluster up` starts etcd, Patroni
# with two PostgreSQL instances, SeaweedFS, two nodes and HAProxy on 127.0.0.1; CITIES cities send
# through HAProxy; the whole log is exported and verified under a trust policy; `gateway cluster
# down` runs whatever happens (the trap), and the directory goes with it.
CITIES ?= 8
cluster-demo: setup
	@dir=$$(mktemp -d /tmp/gateway-cluster-demo.XXXXXX); \
	trap '$(BIN)/gateway cluster down --dir "$$dir"; rmdir "$$dir" 2>/dev/null' EXIT INT TERM; \
	GATEWAY_FAKE_NOW=2020-06-01T10:00:00+09:00 $(BIN)/gateway cluster up --dir "$$dir" --nodes 2 --rehearsal && \
	$(BIN)/python scripts/cluster-demo --cluster "$$dir" --cities $(CITIES)

test: setup
	$(BIN)/pytest -q -n auto --durations=15

# The standing attack battery at full size: the same tests `make test` runs with a few hundred
# inputs, here with thousands (schemathesis on the portal's API, hypothesis on the parsers).
# Counts are written to test-output/fuzz/.
# Then the standing fault battery at full size (tests/reliability/battery.py; `make test` runs each
# case once on small files): every named SIGKILL point, full and read-only disks, locked and
# damaged databases, PostgreSQL killed and restarted, a clock set back, 3 rounds on 2,000-record
# files, then the counts (runs, faults, data lost). About 15 minutes on 2 cores.
fuzz: setup
	GATEWAY_FUZZ_EXAMPLES=2000 $(BIN)/pytest -q -n auto tests/test_parsers_fuzz.py tests/portal/test_api_fuzz.py \
		tests/audit/test_fuzz.py tests/sftp/test_preauth.py
	$(BIN)/python scripts/fault-battery --rounds 3 --records 2000 --jobs 2 --postgres

# The portal walked in headless Chromium by every role at full size (305,115 Kurume records; `make
# test` walks the same path with 2,000), each page checked by axe-core; screenshots and the phases'
# times in test-output/screenshots/.
browser-full: setup
	PORTAL_FULL_SIZE=1 $(BIN)/pytest -q -p no:randomly tests/portal/test_browser.py tests/portal/test_roles_browser.py

# ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade), mypy, and the import contracts of
# .importlinter (no circle; nothing below operations/ imports the service or a channel; the
# auditor never imports the gateway). `.ci/run` runs it before the tests.
lint: setup
	$(BIN)/ruff check gateway audit
	$(BIN)/mypy gateway audit
	$(BIN)/lint-imports

# Benchmarks are not tests: `make test` never runs them. Each module records its figures and
# ratios (against a baseline measured in the same run) in pytest-benchmark's extra_info.
# `BENCH_PROFILE=1 make bench` also writes py-spy profiles to benchmarks/results/profiles/.
bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/pytest benchmarks -q -o python_files='bench_*.py' --benchmark-only \
		--benchmark-json=benchmarks/results/raw.json
	$(BIN)/python benchmarks/report.py

# The national day (issue 24): cities sending through HAProxy to one node, then two, on PostgreSQL and
# SeaweedFS; the serialised log append. Figures in benchmarks/results/national-*.json, read by national.md.
bench-national: setup
	$(BIN)/python benchmarks/national.py --cities 40 --records 300 --concurrency 4 --appends 500
	$(BIN)/python benchmarks/national.py --cities 12 --records 30000 --concurrency 4 --appends 0

clean:
	rm -rf $(VENV) var build test-output .pytest_cache
