# ClientArea: `make run` and `make test` work on a fresh machine with Python 3.11 and make.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The checkout is installed editable: `clientarea` and manage.py import the package from here, so
# a pulled change needs no reinstall and var/ stays beside it. setuptools prints an informational
# "Editable installation" note even under --quiet; this filter drops that one warning by its
# message, so every other warning and every error still shows.
EDITABLE_QUIET := PYTHONWARNINGS="$${PYTHONWARNINGS:+$$PYTHONWARNINGS,}ignore:Editable installation"

.PHONY: run test lint install init-local migrate demo bench screenshots smoke loadtest clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(EDITABLE_QUIET) $(BIN)/python -m pip install --quiet -e ".[test,lint]"
	touch $(STAMP)

install: $(STAMP)

# The local secret key and var/local.env (SITE_URL, PORT), once; `PORT=9000 make run` moves them.
init-local: install
	$(BIN)/clientarea init-local $${PORT:+--port $$PORT}

migrate: init-local
	$(BIN)/clientarea migrate --noinput

demo: migrate
	$(BIN)/clientarea demo-data

run: demo
	$(BIN)/clientarea collectstatic --noinput --verbosity 0
	$(BIN)/clientarea run

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Format, lint, the layers between apps (import-linter, contracts in pyproject.toml), then types.
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy clientarea

# Every bench/ script with a small N on the current DATABASE_URL (SQLite if unset; REDIS_URL too),
# into bench/results-<db>.md. BENCH_ARGS="--only pages,exports" or "--full" (the README's sizes).
bench: install
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

# The production configuration (DEBUG=0, PostgreSQL, Redis, Caddy with TLS, 2 web processes,
# 2 workers) started from deploy/, smoke-tested through a payment, and stopped. Needs caddy,
# PostgreSQL and Redis running locally; SMOKE_ARGS="--database-url ... --redis-url ..." to move it.
smoke: install
	$(BIN)/python deploy/smoke.py $(SMOKE_ARGS)

# The load test against the same configuration: DURATION=10m make loadtest (Locust, headless).
loadtest: install
	$(EDITABLE_QUIET) $(BIN)/python -m pip install --quiet -e ".[load]"
	$(BIN)/python loadtest/run.py --duration $${DURATION:-10m} $(LOADTEST_ARGS)

# Regenerate the help articles' screenshots from the running demo (start `make run` first).
# Pick flows with SHOT_FLOWS=order,plan (default all). The order flow places an unpaid order with
# the VPS20 coupon per language (two per customer): run it again on fresh demo data.
screenshots: install
	$(BIN)/python tools/screenshots.py --base-url "$$($(BIN)/clientarea shell -c 'from django.conf import settings; print(settings.SITE_URL)')" --strict $${SHOT_FLOWS:+--flows $$SHOT_FLOWS}

clean:
	rm -rf $(VENV) var
