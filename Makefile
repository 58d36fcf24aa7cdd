# govboard — the two commands a new machine needs: `make run` and `make test`.
# Only Python 3.11 and make are assumed; everything else comes from uv.lock.

PYTHON ?= python3.11
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-long test-jobs lint format check prod-check bench screenshots clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: $(VENV)/.synced

## Run the product: web on http://$(HOST):$(PORT) + Celery worker + beat, demo data loaded.
## On PostgreSQL give both roles (docs/adr/0014): DATABASE_OWNER_URL migrates and grants,
## DATABASE_URL (the runtime role, created if missing) serves; SQLite says it is not tamper-resistant.
run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) setup_database_roles
	$(MANAGE) collectstatic --noinput -v0
	GOVBOARD_DEMO=1 GOVBOARD_PUBLIC_URL=http://$(HOST):$(PORT) $(MANAGE) load_demo
	@trap 'kill 0' EXIT INT TERM; \
	$(VENV)/bin/celery -A govboard worker --loglevel=INFO --concurrency=2 & \
	$(VENV)/bin/celery -A govboard beat --loglevel=INFO & \
	$(MANAGE) runserver $(HOST):$(PORT)

## Run the test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set, else SQLite).
## With DATABASE_OWNER_URL too, the suite connects as the owner (it creates the test database)
## and the AUD-1/AUD-2 tests as DATABASE_URL's runtime role, granted on the test database.
## TEST_WORKERS pytest-xdist workers (0: one process), each with its own test database,
## Redis database (REDIS_URL's number + the worker's) and media directory. --dist load keeps
## pytest-django's order in every worker: no test meets a database a transactional test has
## flushed unless it is transactional itself and restores what it needs.
TEST_WORKERS ?= 2
test: install
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist load $(PYTEST_ARGS)

## CON-3's dedicated run: the governance state machine over >= 2,000 examples (prints its figure).
test-long: install
	GOVBOARD_CON3_EXAMPLES=$${GOVBOARD_CON3_EXAMPLES:-2000} $(VENV)/bin/pytest tests/approvals/test_state_machine.py -q -s $(PYTEST_ARGS)

## JOB-1 and JOB-2 (about 3 minutes; PostgreSQL and Redis): two workers and two beats racing
## every lifecycle sweep, and a worker SIGKILLed mid-sweep 20 times (each prints its figure).
test-jobs: install
	$(VENV)/bin/pytest tests/approvals/test_lifecycle_jobs_in_processes.py -m jobs -q -s $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: install
	DJANGO_SETTINGS_MODULE=govboard.settings.production SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))') \
	  ALLOWED_HOSTS=govboard.example GOVBOARD_SIGNING_KEY=$$($(PY) -c 'import secrets,base64; print(base64.b64encode(secrets.token_bytes(32)).decode())') \
	  $(MANAGE) check --deploy --fail-level WARNING

## Production settings under gunicorn against local PostgreSQL and Redis; probes /health/.
prod-check: install
	bash deploy/prod_check.sh

## docs/screenshots/: each person's landing page, the review page, the dashboard and a model card
## (the demo on a throw-away embedded installation, in Debian's headless Chromium).
screenshots: install
	$(PY) tools/screenshots.py

clean:
	rm -rf $(VENV) $(TOOLS) var
