# The two commands the README opens with. Each sets up what it needs in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck completions clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	@echo "== kite apply is not built yet: the demo validates, draws and plans the example =="
	cd examples/weather && ../../$(BIN)/kite validate && ../../$(BIN)/kite graph && ../../$(BIN)/kite plan

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check kitecli tests bench examples
	$(BIN)/ruff format --check kitecli tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy --strict kitecli

completions: $(STAMP)
	$(BIN)/python -m kitecli.completions completions

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
