# `make demo` and `make test` work on a fresh machine with only Python and apt: they set up
# everything they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell $(PYTHON) -c 'import hashlib,sys;print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest()[:12])')

.PHONY: setup system-packages demo test fuzz bench clean

setup: system-packages $(STAMP)

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

test: setup
	$(BIN)/pytest -q -n auto --durations=15

# The standing fault battery at full size (tests/reliability/battery.py; `make test` runs each
# case once on small files): every named SIGKILL point, full and read-only disks, locked and
# damaged databases, PostgreSQL killed and restarted, a clock set back, 3 rounds on 2,000-record
# files, then the counts (runs, faults, data lost). About 15 minutes on 2 cores.
fuzz: setup
	$(BIN)/python scripts/fault-battery --rounds 3 --records 2000 --jobs 2 --postgres

# Benchmarks are not tests: `make test` never runs them. Each module records its figures and
# ratios (against a baseline measured in the same run) in pytest-benchmark's extra_info.
# `BENCH_PROFILE=1 make bench` also writes py-spy profiles to benchmarks/results/profiles/.
bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/pytest benchmarks -q -o python_files='bench_*.py' --benchmark-only \
		--benchmark-json=benchmarks/results/raw.json
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) var build test-output .pytest_cache
