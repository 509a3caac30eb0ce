# Manual Neural Networks. `make help` lists the targets.
# Every target that needs Python first makes sure .venv exists and holds the project.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help course test lint format student-copy clean

help:  ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

course: $(STAMP)  ## set up, then build and check the course end to end on the bundled data
	$(PY) scripts/train_digits.py --out build

test: $(STAMP)  ## set up, then run the whole test suite
	$(PY) -m pytest

lint: $(STAMP)  ## ruff: style and common mistakes
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src autograder scripts tests

format: $(STAMP)  ## ruff: rewrite files in the project's format
	$(VENV)/bin/ruff format src autograder scripts tests
	$(VENV)/bin/ruff check --fix .

student-copy: $(STAMP)  ## write the student copy of nnlib (stubs) to build/student-nnlib
	$(PY) -m autograder.student_copy build/student-nnlib/nnlib

clean:  ## remove build outputs (keeps .venv)
	rm -rf build .pytest_cache .ruff_cache .hypothesis
