# Two commands do everything on a fresh machine:
#   make run   set up, then serve the shipped weights on http://0.0.0.0:5000
#   make test  set up, then run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 0.0.0.0
PORT ?= 5000

.PHONY: setup setup-dev run serve-prod test package-check clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

run: setup
	$(PY) -m alpr serve --host $(HOST) --port $(PORT)

serve-prod: setup
	$(VENV)/bin/gunicorn --bind $(HOST):$(PORT) --workers 1 --threads 8 --timeout 60 'alpr.api:create_app()'

test: setup-dev
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory package-check

# serverless.yml → CloudFormation, offline (dummy credentials), then cfn-lint. Needs node/npm:
# npx fetches serverless@3 from the npm registry the first time.
package-check: setup-dev
	PY=$(PY) ./scripts/check-serverless.sh

clean:
	rm -rf $(VENV) .pytest_cache
