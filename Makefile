# Baton's two entry points (see README): `make run` and `make test`. Everything else is a step.
SHELL := /bin/bash
# Let Python keep compiled modules (__pycache__, git-ignored): with PYTHONDONTWRITEBYTECODE=1 in
# the environment, every test worker and each of the ~200 service processes the suite starts
# compiled the project again and pytest re-rewrote every test module (unit tests, 6 workers:
# 85 -> 68 CPU-s, 73 -> 44-54 s wall).
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-parts unit integration lint bench venv lock tools helm docker-compose mailpit down chaos

# Dependencies come from the lock files only, every file checked against its hash:
# requirements.lock (runtime: the image) and requirements-dev.lock (runtime + CLI/local stack +
# dev tools: this venv). After editing dependencies in pyproject.toml run `make lock`.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 --generate-hashes

$(STAMP): pyproject.toml $(DEV_LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

## Re-resolve both lock files from pyproject.toml (existing pins are kept where they still fit;
## `make lock UPGRADE=--upgrade` moves everything to the newest allowed versions).
lock: venv
	$(UV_COMPILE) $(UPGRADE) -o $(LOCK)
	$(UV_COMPILE) $(UPGRADE) --extra dev -o $(DEV_LOCK)
	$(MAKE) --no-print-directory venv

# Java and Maven run the Kafka broker; promtool checks the Prometheus config, alert rules and
# every dashboard query; node runs the Zabbix media type's script; helm renders the chart;
# docker-compose checks docker-compose.yml.
# Installed only where missing.
tools:
	@command -v java >/dev/null && command -v mvn >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null; }
	@command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }
	@# The real-Alertmanager test drives Prometheus and Alertmanager into intake.
	@command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager >/dev/null; }
	@command -v node >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; }
	@# Documents: WeasyPrint prints HTML to PDF with Pango; the tests read each document as a
	@# person would, Chromium showing the HTML and poppler (pdftoppm, pdftotext) the PDF.
	@ldconfig -p | grep -q libpangoft2-1.0 && ldconfig -p | grep -q libharfbuzz-subset && fc-list | grep -qi dejavu || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fontconfig >/dev/null; }
	@command -v chromium >/dev/null && command -v pdftoppm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium poppler-utils >/dev/null; }
	@command -v promtool >/dev/null || { echo "promtool is missing: apt-get install prometheus"; exit 1; }
	@command -v helm >/dev/null || test -x $(BIN)/helm || $(MAKE) --no-print-directory helm
	@command -v docker-compose >/dev/null || test -x $(BIN)/docker-compose || $(MAKE) --no-print-directory docker-compose
	@test -x $(BIN)/mailpit || command -v mailpit >/dev/null || $(MAKE) --no-print-directory mailpit

# helm renders deploy/helm/baton in the suite; built from its Go module into .venv/bin (Go from
# Debian where missing; GOTOOLCHAIN=auto fetches the Go release helm's go.mod asks for).
HELM_VERSION := v3.19.5
helm: venv
	@command -v go >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null; }
	GOTOOLCHAIN=auto GOBIN=$(abspath $(BIN)) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# Mailpit: the local stack's SMTP relay with an HTTP API and a web UI (people's e-mail; the
# integration tests read it). Built from its Go module into .venv/bin (~1 min), like helm.
MAILPIT_VERSION := v1.33.1
mailpit: venv
	@command -v go >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null; }
	GOTOOLCHAIN=auto GOBIN=$(abspath $(BIN)) go install github.com/axllent/mailpit@$(MAILPIT_VERSION)

# docker-compose.yml is validated in the suite (`docker-compose config --quiet`): Docker Compose v2
# built from its Go module (~4 min once), named docker-compose in .venv/bin. No Docker needed.
COMPOSE_VERSION := v2.32.4
docker-compose: venv
	@command -v go >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null; }
	GOTOOLCHAIN=auto GOBIN=$(abspath $(BIN))/.compose go install github.com/docker/compose/v2/cmd@$(COMPOSE_VERSION)
	mv $(BIN)/.compose/cmd $(BIN)/docker-compose && rmdir $(BIN)/.compose

## The main job: the whole stack (Kafka, PostgreSQL, four services) and a demo alert storm.
run: venv
	@command -v java >/dev/null && command -v mvn >/dev/null || $(MAKE) tools
	@test -x $(BIN)/mailpit || command -v mailpit >/dev/null || $(MAKE) --no-print-directory mailpit
	$(BIN)/baton stack up
	$(BIN)/baton demo

## The whole test suite: lint and types, then Kafka and PostgreSQL up, the suite's parts (each
## timed; their times are printed at the end), and the stack down again.
test: venv tools lint
	$(BIN)/baton stack up --infra-only
	@export BATON_TEST_TIMES=$$(mktemp); rc=0; started=$$(date +%s); \
	$(MAKE) --no-print-directory -k test-parts || rc=$$?; \
	$(BIN)/baton stack down || rc=$$?; \
	echo "== wall time of the suite's parts (this machine; other load slows them):"; \
	cat $$BATON_TEST_TIMES; echo "== total $$(( $$(date +%s) - started )) s"; \
	rm -f $$BATON_TEST_TIMES; exit $$rc

# pytest workers: each test has its own topic prefix and database. Since the integration tests
# wait on facts instead of sleeping (ADR 29), the suite is CPU-bound on this 2-core machine:
# with 6 workers and the integration tests handed out first, a fresh clone started 24 service
# processes at once and services missed their 60 s start (549 s, 4 failures). worksteal hands
# worker 0 the integration tests (they come first in collection order) and the others steal them
# as they finish their unit tests, which staggers the starts.
TEST_WORKERS ?= 4
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist worksteal --durations=15 --durations-min=1

# Each part of the suite is one `.ci/part NAME COMMAND` line: it is timed, and a part that
# collects no test fails. Parts that need their own stack (chaos, three brokers) go below.
test-parts:
	.ci/part unit+integration $(BIN)/pytest $(PYTEST_PARALLEL)
	.ci/part three-brokers env BATON_CHAOS=1 $(BIN)/pytest tests/chaos/test_three_brokers.py -p no:xdist -s --timeout 600
	.ci/part chaos env BATON_CHAOS=1 $(CHAOS_PYTEST)

## The chaos suite (tests/chaos/test_chaos.py, tests/chaos/harness.py): a 10,000-alert storm on a
## stack of its own (free ports, its own folder) while each service is killed with SIGKILL,
## Kafka killed and PostgreSQL stopped, each once and restarted; prints
## sent/accepted/landed/lost/doubled and recovery seconds (docs/PERFORMANCE.md, "Chaos"). A part
## of `make test`; alone: `make chaos`. Storm size: BATON_CHAOS_ALERTS (default 10,000).
CHAOS_PYTEST = $(BIN)/pytest tests/chaos/test_chaos.py -p no:xdist -s --timeout 600
chaos: venv tools
	.ci/part chaos env BATON_CHAOS=1 $(CHAOS_PYTEST)

unit: venv
	$(BIN)/pytest -m "not integration"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

bench: venv
	$(BIN)/baton stack up
	$(BIN)/baton bench

down: venv
	$(BIN)/baton stack down
