# The two commands of the README: `make run` and `make test`. Everything else is a step of those.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run serve test setup translations lint extract-messages screenshots

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/.installed translations
	@bash scripts/system-deps.sh font  # the CJK font of the printed confirmation sheets

translations: $(BIN)/.installed
	$(BIN)/pybabel compile -f -d translations 2>/dev/null

## Run the app on the embedded defaults (SQLite, local storage, SMS to the console) with demo data.
# Slips, sheets, SMS and invitations carry the address the app is served on, unless PUBLIC_BASE_URL says otherwise.
PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: setup
	$(BIN)/flask --app webapp db upgrade
	PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) $(BIN)/flask --app webapp demo
	@echo "→ open $(PUBLIC_BASE_URL)/"
	PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) $(BIN)/flask --app webapp run --host $(HOST) --port $(PORT)

## Serve the app as production does: gunicorn with the project's gunicorn.conf.py (configure it via the environment).
serve: setup
	$(BIN)/gunicorn -c gunicorn.conf.py

## Run the whole test suite on SQLite, then on PostgreSQL.
test: setup
	bash scripts/test.sh

lint: setup
	$(BIN)/ruff check .

extract-messages: $(BIN)/.installed
	$(BIN)/pybabel extract -w 120 --ignore-dirs '.* __pycache__' -F babel.cfg -k _l -k N_ -o translations/messages.pot .
	$(BIN)/pybabel update -w 120 -i translations/messages.pot -d translations

screenshots: setup
	SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest -q -m browser
