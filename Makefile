# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app portal

.PHONY: run test

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The portal on the embedded default: SQLite and mail files in instance/, a delivery worker
# beside the web server, both stopped together with Ctrl-C.
run: $(BIN)/.installed
	@# A random secret key for this checkout, kept in the instance folder (ignored by git).
	@test -f instance/config.py || $(BIN)/python -c \
	  "import secrets; print('SECRET_KEY = %r' % secrets.token_hex(32))" > instance/config.py
	$(FLASK) db upgrade
	$(FLASK) outbox run & worker=$$!; trap 'kill $$worker' EXIT INT TERM; $(FLASK) run

test: $(BIN)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)
