# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000

.PHONY: run test install install-dev lint e2e messages compilemessages manage clean-var bench

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# A stamp per requirements file: a second run reuses the venv unless the pins changed.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install -q -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Start the whole system (embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set),
## with demo data, on http://127.0.0.1:$(PORT)/. Ctrl-C stops everything.
run: install
	PORT=$(PORT) CC_DEMO_MODE=true $(PY) -m contactcenter.run

## The whole test suite, browser tests included (installs Chromium when it can).
test: install-dev
	scripts/ensure-chromium
	$(PY) -m pytest

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## The performance benchmarks (docs/performance.md); it starts and stops the system itself on port 8100.
## make bench ARGS="--quick" smoke-tests the harness; ARGS="--only p1,p2 --workers 2" runs a part.
bench: install-dev
	$(PY) bench/run_all.py $(ARGS)

## Run a management command against the same services `make run` uses: make manage ARGS="createsuperuser"
manage: install
	CC_DEMO_MODE=true $(PY) -m contactcenter.run --manage $(ARGS)

messages: install-dev
	CC_DEMO_MODE=true $(PY) -m contactcenter.run --manage makemessages --all --no-obsolete --ignore=.venv --ignore=var
	CC_DEMO_MODE=true $(PY) -m contactcenter.run --manage makemessages --all --no-obsolete -d djangojs --ignore=.venv --ignore=var --ignore=staticfiles

compilemessages: install-dev
	CC_DEMO_MODE=true $(PY) -m contactcenter.run --manage compilemessages --ignore=.venv
