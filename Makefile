# The two commands (shared/contracts.md §1): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

ifeq ($(CI),true)
# CI uses the real services; the tests fail loudly if either is missing.
export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/companion
export REDIS_URL ?= redis://127.0.0.1:6379/0
endif

.PHONY: run test install messages migrate seed check-messages bench contract model

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed

# The compiled catalogues are committed too; without GNU gettext they are used as they are.
messages: install
	@if command -v msgfmt >/dev/null 2>&1; then $(BIN)/python manage.py compilemessages --ignore=.venv -v0; \
	else echo "msgfmt not found: using the committed .mo files"; fi

migrate: install
	$(BIN)/python manage.py migrate --noinput -v0

seed: migrate
	$(BIN)/python manage.py seed_demo

run: messages seed
	@echo "Serving on http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	exec $(BIN)/daphne -b 127.0.0.1 -p $(PORT) companion.asgi:application

test: messages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Retrain the offline risk model from moderation/model/data (needs scikit-learn; the app does not).
model: install
	$(BIN)/python -m pip install --quiet -r requirements-train.txt
	DJANGO_SETTINGS_MODULE=companion.settings $(BIN)/python -m moderation.model.train

bench: install
	$(BIN)/python bench/ws_latency.py

contract:
	$(BIN)/python ../shared/tools/contract_check.py --base http://127.0.0.1:$(PORT)
