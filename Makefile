# clive lives in a virtual environment of its own (.venv): Debian's Python refuses pip
# installs outside one (PEP 668), and nothing of the system's Python is touched.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
LINK_DIR ?= $(HOME)/.local/bin

.PHONY: install test bench lint format

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,ray]'
	@mkdir -p $(LINK_DIR) && ln -sf $(BIN)/clive $(LINK_DIR)/clive
	@echo "clive is installed in $(abspath $(VENV)): run $(BIN)/clive"
	@case ":$$PATH:" in *":$(LINK_DIR):"*) echo "  or just clive ($(LINK_DIR)/clive links to it)";; \
	  *) echo "  or add $(LINK_DIR) to your PATH: $(LINK_DIR)/clive links to it";; esac

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { echo "cannot make a virtual environment with $(PYTHON):" \
	  "on Debian or Ubuntu, apt-get install python3-venv"; rm -rf $(VENV); exit 1; }

# The environment's programs first: the tests run clive's tools (asciinema) as a user would.
test: $(BIN)/python
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest -q

bench: $(BIN)/python
	PATH="$(BIN):$$PATH" $(BIN)/python -m bench

lint: $(BIN)/python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/python
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
