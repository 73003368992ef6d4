# NATO–Ukraine Relations 2026: build the report from data.
# `make report` and `make test` are the whole set-up on a fresh machine.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

AS_OF ?=
JOBS  ?=
OUT   ?=
ARGS  ?=
ALLIES ?=
PORT  ?=

BUILD_FLAGS := $(if $(AS_OF),--as-of $(AS_OF)) $(if $(JOBS),--jobs $(JOBS)) $(if $(OUT),--out $(OUT)) $(ARGS)

.DEFAULT_GOAL := help
.PHONY: help report briefs validate data test test-quick bench lab preview strip clean check-html

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: AS_OF=YYYY-MM-DD JOBS=N OUT=dir ARGS='--sections 02,07 --no-pdf ...' ALLIES=POL,DEU"

# The virtualenv is (re)built when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

report: $(STAMP) ## Build the default edition (HTML + PDF) into reports/<as_of>/ and point reports/latest at it
	$(BIN)/natoua build $(BUILD_FLAGS)

briefs: $(STAMP) ## Build the per-ally briefs (ALLIES=POL,DEU or all) into reports/<as_of>/briefs/
	$(BIN)/natoua briefs $(if $(AS_OF),--as-of $(AS_OF)) $(if $(JOBS),--jobs $(JOBS)) $(if $(OUT),--out $(OUT)) $(if $(ALLIES),--allies $(ALLIES)) $(ARGS)

validate: $(STAMP) ## Validate the data package only (every problem as file:row:column: message)
	$(BIN)/natoua validate

data: $(STAMP) ## Re-import every publisher's raw snapshot (data/raw/) into its tidy dataset, byte for byte
	$(BIN)/natoua import sipri --write
	$(BIN)/natoua import ecb --write
	$(BIN)/natoua import nato --write

# The suite runs on TEST_WORKERS processes (pytest-xdist; 2 = the cores of the machine it is sized for); each
# idle worker takes tests from a busy one (worksteal), so one long test file does not hold up the end.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

test: $(STAMP) ## Run the whole test suite (what CI runs)
	NATOUA_TEST_KEEP_CACHE= $(PYTEST) $(ARGS)

test-quick: $(STAMP) ## Inner loop: unit tests, a sample of the bad-input corpus, one built edition (no `full` tests; caches kept in reports/.test-cache)
	NATOUA_TEST_KEEP_CACHE=$(CURDIR)/reports/.test-cache $(PYTEST) -m "not full" $(ARGS)

bench: $(STAMP) ## Time naive vs cached builds and the briefs (writes a table for the README)
	$(BIN)/python benchmarks/bench.py $(ARGS)

# Jupyter refuses to run as root unless told; only then is --allow-root added.
lab: $(STAMP) ## Open JupyterLab on the notebooks with the project kernel (prints the URL to open)
	@echo "JupyterLab: open the http://localhost:.../lab?token=... URL printed below (Ctrl-C twice to stop)"
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(ARGS)

preview: $(STAMP) ## Live HTML preview on http://localhost:8765/ that follows edits (PORT=8766, ARGS=--pdf)
	$(BIN)/natoua preview $(if $(AS_OF),--as-of $(AS_OF)) $(if $(PORT),--port $(PORT)) $(if $(OUT),--out $(OUT)) $(ARGS)

strip: $(STAMP) ## Remove outputs and execution counts from the notebooks (do this before committing)
	$(BIN)/jupyter nbconvert --clear-output --inplace --log-level=WARN notebooks/*.ipynb

# Optional (not part of make test or make report): needs node, npm and a Chromium (CHROMIUM=/usr/bin/chromium).
check-html: ## axe-core (WCAG 2.1 AA) on the latest HTML in a local Chromium, 390 px scroll, links (HTML=file)
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "check-html needs node and npm (an optional check)"; exit 2; }
	@test -d .check-html/node_modules/axe-core -a -d .check-html/node_modules/playwright-core || \
		npm install --silent --no-save --prefix .check-html axe-core@4 playwright-core@1
	CHECK_HTML_MODULES=.check-html/node_modules node tools/check-html.mjs \
		$(or $(HTML),$(firstword $(wildcard reports/latest/nato-ukraine-relations-*.html)))

clean: ## Remove built editions and caches (keeps the virtualenv)
	find reports -mindepth 1 -maxdepth 1 -not -name .gitkeep -exec rm -rf {} +
	rm -rf .pytest_cache
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
