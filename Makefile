# Baton's two entry points (see README): `make run` and `make test`. Everything else is a step.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test unit integration lint bench venv tools down

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# Java and Maven run the Kafka broker; promtool checks the Prometheus config, alert rules and
# every dashboard query; node runs the Zabbix media type's script. Debian packages, installed
# only where missing.
tools:
	@command -v java >/dev/null && command -v mvn >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null; }
	@command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }
	@command -v node >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; }
	@# Documents: WeasyPrint prints HTML to PDF with Pango; the tests read each document as a
	@# person would, Chromium showing the HTML and poppler (pdftoppm, pdftotext) the PDF.
	@ldconfig -p | grep -q libpango-1.0 && ldconfig -p | grep -q libpangoft2-1.0 && fc-list | grep -qi dejavu || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core fontconfig >/dev/null; }
	@command -v chromium >/dev/null && command -v pdftoppm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium poppler-utils >/dev/null; }
	@command -v promtool >/dev/null || { echo "promtool is missing: apt-get install prometheus"; exit 1; }

## The main job: the whole stack (Kafka, PostgreSQL, four services) and a demo alert storm.
run: venv
	@command -v java >/dev/null && command -v mvn >/dev/null || $(MAKE) tools
	$(BIN)/baton stack up
	$(BIN)/baton demo

## The whole test suite: lint and types, then Kafka and PostgreSQL up, unit and integration
## tests, and the stack down again.
test: venv tools lint
	$(BIN)/baton stack up --infra-only
	$(BIN)/pytest; rc=$$?; $(BIN)/baton stack down; exit $$rc

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
