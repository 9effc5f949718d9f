# stackstep: `make demo` runs the main job, `make test` runs every check and test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check lint types layers pytest golden bench bench-lab bench-downtime bench-rolling clean system-deps

# Debian packages the tests use as real peers: an OpenSSH server and sudo (SSH transport
# tests), rpm (parsers checked against the real rpm), and the lab: debootstrap,
# systemd-container, dnf, createrepo-c; MariaDB + PyMySQL for the stand-in services'
# tests; chromium (headless: the run report's browser tests, tests/browser.py); haproxy
# (drivers/haproxy.py against a real one, tests/integration/test_drain_haproxy.py).
# Installed when missing, as root.
SYSTEM_DEPS := openssh-server sudo rpm dnf createrepo-c debootstrap systemd-container \
               mariadb-server python3-pymysql chromium haproxy

$(STAMP): pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -e .
	$(BIN)/python -m compileall -q src  # an editable install has no .pyc of its own
	touch $(STAMP)

## demo: lab up, deploy a Grizzly cloud on it, upgrade it to Havana live (needs root).
demo: $(STAMP) system-deps
	$(BIN)/stackstep demo

## test: everything CI runs: format, lint, types, import layers, then the test suite
## with its coverage figure (see pytest below).
test: check pytest

check: lint types layers

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

types: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

system-deps:
	@missing=$$(for p in $(SYSTEM_DEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages (tests needing them will skip): $$missing"; fi; \
	fi

## pytest: the test suite with coverage of stackstep (pyproject.toml [tool.coverage.run]:
## the package, and the CLI run as a child process too); prints the total and fails under
## COVERAGE_FLOOR. `.venv/bin/coverage report -m` afterwards shows each file's missed lines.
## The 15 slowest tests are listed too: CI must stay well inside 30 minutes.
COVERAGE_FLOOR := 77
pytest: $(STAMP) system-deps
	$(BIN)/pytest -q --durations=15 --cov --cov-report= --cov-fail-under=$(COVERAGE_FLOOR)

## golden: rewrite the golden plan files after a deliberate change (review the diff!)
golden: $(STAMP)
	STACKSTEP_UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/unit/test_golden_plans.py

bench: $(STAMP)
	$(BIN)/python bench/plan_scale.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/fuzz.py

## bench-lab: the crash and fault campaigns on the lab (root; several minutes each)
bench-lab: $(STAMP) system-deps
	$(BIN)/python bench/crash.py
	$(BIN)/python bench/faults.py

## bench-downtime: each API's outage, stackstep vs the seed's procedure run literally
## (bench/seed_upgrade.sh), then the prober's cost (root, the lab; ~20 minutes)
bench-downtime: $(STAMP) system-deps
	$(BIN)/python bench/downtime.py
	$(BIN)/python bench/downtime.py --cost

## bench-rolling: failed requests and outage through the VIP under load, rolling vs
## service-by-service on the HA lab (root, the lab; ~10 minutes)
bench-rolling: $(STAMP) system-deps
	$(BIN)/python bench/rolling.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
