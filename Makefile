# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORTAL := $(BIN)/portal
# `make run HOST=0.0.0.0 PORT=8080`: Flask's own variables, so `portal run` and the links in the
# front-desk emails (PUBLIC_BASE_URL follows them unless it is set) agree on the address.
HOST ?= 127.0.0.1
PORT ?= 5000
run: export FLASK_RUN_HOST := $(HOST)
run: export FLASK_RUN_PORT := $(PORT)
# The instance folder: PORTAL_INSTANCE_PATH when set (as the portal itself reads it), else instance/.
INSTANCE := $(or $(PORTAL_INSTANCE_PATH),instance)

.PHONY: run test lint typecheck translations

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The portal on the embedded default: SQLite and mail files in instance/, a delivery worker
# beside the web server, both stopped together with Ctrl-C.
run: $(BIN)/.installed
	@# A random secret key for this checkout, kept in the instance folder (ignored by git).
	@mkdir -p $(INSTANCE)
	@test -f $(INSTANCE)/config.py || $(BIN)/python -c \
	  "import secrets; print('SECRET_KEY = %r' % secrets.token_hex(32))" > $(INSTANCE)/config.py
	@$(PORTAL) db upgrade
	@$(PORTAL) welcome
	@# Ctrl-C reaches both processes (one process group): each stops itself, the EXIT trap only
	@# cleans up quietly after another way out, and an ending by signal counts as success, so
	@# make prints no error; a real failure of the web server (port in use) still fails.
	@$(PORTAL) outbox run & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	  trap 'exit 0' INT TERM; \
	  $(PORTAL) run || [ $$? -ge 128 ]

# Lint, format and types are checked before the tests, so CI (.ci/run calls `make test`) fails
# on them. `make test PYTEST_ARGS='tests/test_x.py -q'` still passes its arguments to pytest.
# The tests run in TEST_WORKERS processes (pytest-xdist), one more than the CPUs: half of the
# suite's time is spent waiting (worker subprocesses, SMTP and HTTP servers, leases running out),
# so a spare process keeps both CPUs busy. `make test TEST_WORKERS=0` runs them in one process.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
test: lint typecheck
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy over portal/ with the settings in pyproject.toml; fails on any error.
typecheck: $(BIN)/.installed
	$(BIN)/mypy portal

# The catalogues: extract every marked message (babel.cfg), merge it into each language's .po
# (new messages empty, changed ones fuzzy: tests/test_translations.py fails until a translator has
# filled them), then compile the .mo files the portal reads. Both are committed, so a fresh clone
# and the wheel have them without this step; run it after changing any text a patient reads.
TRANSLATIONS := portal/translations
translations: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --sort-by-file --add-location=file \
	  --project=practice-portal --copyright-holder="the practice portal's authors" \
	  -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-wrap
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics
