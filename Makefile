# The two commands the README opens with. Each sets up what it needs in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck completions browser screenshot clean

BASE   := $(VENV)/.installed-base

# kite alone: what `make demo` needs
$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(BASE)

# and the cloud, Kubernetes and development extras: what `make test` needs
$(STAMP): $(BASE)
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

KITE := $(abspath $(BIN))/kite
demo: $(BASE)
	@echo "== the example pipeline, from scratch: examples/weather (see its pipeline.yaml)"
	cd examples/weather && rm -rf .kite kite.lock data/clean data/daily data/monthly data/report
	cd examples/weather && $(KITE) validate && $(KITE) graph
	@echo "== kite apply: runs every datum"
	cd examples/weather && $(KITE) apply
	@echo "== kite plan: nothing is left to do"
	cd examples/weather && $(KITE) plan
	@echo "== kite log"
	cd examples/weather && $(KITE) log
	@echo "== the result: examples/weather/data/report/summary.csv"
	@cat examples/weather/data/report/summary.csv

# the real control plane (Go, built once into a cache outside the checkout) and the suite
test: $(STAMP) lint typecheck browser
	tests/debian-tools.sh
	KITE_TEST_CONTROLPLANE="$$(tests/k8s/controlplane/build.sh)" $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check kitecli tests bench examples
	$(BIN)/ruff format --check kitecli tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy --strict kitecli

# the headless browser tests/test_timeline.py drives: Debian's chromium, installed when
# missing; where it cannot be, those tests are skipped and say why
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "== installing chromium for the browser tests (apt-get install -y chromium)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  { apt-get install -y -qq chromium || { apt-get update -qq && apt-get install -y -qq chromium; }; } \
	    >/dev/null 2>&1 || echo "warning: chromium could not be installed: the browser tests will be skipped"; }

# docs/timeline.png: a real run of examples/weather, its timeline in headless Chromium
screenshot: $(STAMP) browser
	$(BIN)/python -m tests.timeline_screenshot docs/timeline.png

completions: $(STAMP)
	$(BIN)/python -m kitecli.cli.completions completions

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
