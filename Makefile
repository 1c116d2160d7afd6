# Two commands matter: `make run` (set up and run the service) and `make check` (set up and run every test and check).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run check install lint test unit clean vendor chromium screenshots

run: install
	$(BIN)/healthmon serve

check: install lint test

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit("healthmon needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install chromium
	$(BIN)/pytest

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
CHROMIUM := /usr/bin/chromium
chromium: $(CHROMIUM)

$(CHROMIUM):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# The dashboard's chart library, vendored from its npm package with its licence; the files are
# committed, so this runs only to change the version (then commit what it wrote).
UPLOT_VERSION := 1.6.32
UPLOT_DIR := src/healthmon/entrypoints/http/static/vendor/uplot
vendor:
	rm -rf $(UPLOT_DIR) .vendor-tmp && mkdir -p $(UPLOT_DIR) .vendor-tmp
	cd .vendor-tmp && npm pack --silent uplot@$(UPLOT_VERSION) && tar -xzf uplot-$(UPLOT_VERSION).tgz
	cp .vendor-tmp/package/dist/uPlot.iife.min.js .vendor-tmp/package/dist/uPlot.min.css \
		.vendor-tmp/package/LICENSE $(UPLOT_DIR)/
	echo "uplot $(UPLOT_VERSION) (npm pack uplot@$(UPLOT_VERSION); make vendor)" > $(UPLOT_DIR)/VERSION
	rm -rf .vendor-tmp

# Screenshots of the dashboard's pages for the README (docs/screenshots), from a running service.
screenshots: install chromium
	$(BIN)/python -m tests.integration.browser.screenshots

# The fast loop: domain, application and entry-point tests, no database, network or thread (seconds).
unit: install
	$(BIN)/pytest tests/unit -q

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
