# cop-indicators: every target sets up what it needs itself, on a machine with only Python >= 3.11 and make.
# The environment is reproducible: uv installs exactly the versions pinned in uv.lock into .venv/.
PYTHON ?= python3
VENV := .venv
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9

# uv must use the machine's Python, never download one; Dagster uses the project's instance (dagster.yaml).
# The environment is installed with compiled bytecode, so that the first `cop` command after set-up does not spend
# seconds compiling pandas, scipy and Dagster.
export UV_PYTHON_DOWNLOADS := never
export DAGSTER_HOME := $(CURDIR)
export COP_DAGSTER_STATE := $(CURDIR)/.dagster

.PHONY: setup build test dev docs sample clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --extra dev --compile-bytecode --python $(PYTHON)
	touch $@

## setup: create .venv with the locked dependencies
setup: $(VENV)/.synced

## build: build a release from the real public snapshot (data/public) and the synthetic survey sample into data/published/
build: setup
	$(VENV)/bin/cop build

## test: run every test
test: setup
	$(VENV)/bin/python -m pytest

## dev: open the Dagster UI on http://127.0.0.1:3000
# `dagster dev` writes logs/ and .logs_queue/ into DAGSTER_HOME: give it a home inside the git-ignored state folder
# (a copy of dagster.yaml, whose storage is the same COP_DAGSTER_STATE as `cop build`'s, so the UI shows its runs)
dev: setup
	mkdir -p $(COP_DAGSTER_STATE)/home
	cp dagster.yaml $(COP_DAGSTER_STATE)/home/dagster.yaml
	DAGSTER_HOME=$(COP_DAGSTER_STATE)/home $(VENV)/bin/dagster dev

## docs: regenerate docs/indicators.md from the indicator registry
docs: setup
	$(VENV)/bin/cop indicators docs

## sample: regenerate the synthetic samples from their seeded generators
sample: setup
	$(VENV)/bin/python -m indicators.synthetic.ict_sample
	$(VENV)/bin/python -m indicators.synthetic.incidents_sample
	$(VENV)/bin/python -m indicators.synthetic.child_survey_sample

clean:
	rm -rf $(VENV) $(TOOLS) .dagster data/warehouse data/published
