# The two commands: `make demo` (the main job) and `make test`. Both build .venv when needed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin

.PHONY: venv demo test check lint typecheck airflow constraints clean

venv:
	@PYTHON=$(PYTHON) scripts/ensure-venv.sh

demo: venv
	$(BIN)/hub demo

test: venv
	@scripts/ensure-chromium.sh
	$(BIN)/pytest -n 2 --dist loadfile
	$(BIN)/ruff check .
	$(BIN)/mypy

check: lint typecheck

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

# Airflow UI over the demo's metadata (.hub/airflow); open http://127.0.0.1:8080
airflow: venv
	$(BIN)/hub airflow standalone

constraints: venv
	@{ head -2 constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt

clean:
	rm -rf .hub .pytest_cache .mypy_cache .ruff_cache
