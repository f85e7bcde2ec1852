# The two commands the README opens with. Each sets up what it needs in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck completions clean

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
test: $(STAMP) lint typecheck
	tests/debian-tools.sh
	KITE_TEST_CONTROLPLANE="$$(tests/k8s/controlplane/build.sh)" $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check kitecli tests bench examples
	$(BIN)/ruff format --check kitecli tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy --strict kitecli

completions: $(STAMP)
	$(BIN)/python -m kitecli.cli.completions completions

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
