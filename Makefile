PYTHON ?= python3

.PHONY: install test bench lint format

install:
	$(PYTHON) -m pip install -q -e '.[dev]'

test:
	$(PYTHON) -m pytest -q

bench:
	$(PYTHON) -m bench

lint:
	ruff check .
	ruff format --check .

format:
	ruff format .
	ruff check --fix .
