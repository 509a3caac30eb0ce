# Manual Neural Networks. `make help` lists the targets.
# Every target that needs Python first makes sure .venv exists and holds the project.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help course test test-from-scratch lint format student-copy clean release grade gradescope grade-samples bench-grader

help:  ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "%-19s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

course: $(STAMP)  ## set up, then build and check the course end to end on the bundled data
	$(PY) scripts/train_digits.py --out build
	$(MAKE) book
	$(MAKE) release
	$(MAKE) grade-samples

test: $(STAMP)  ## set up, then run the test suite (all but the from-scratch tests)
	$(PY) -m pytest

test-from-scratch: $(STAMP)  ## the bundle installed afresh, the README's commands on a copy of the kit
	$(PY) -m pytest -m from_scratch

# Real-browser tests (tests/browser): Debian's Chromium, driven by Playwright's Python package.
# Installs what they need: chromium with apt when missing (as root), playwright into .venv.
CHROMIUM ?= /usr/bin/chromium
BOOK_INPUTS := $(wildcard solutions/*/*.ipynb src/nnlib/*.py scripts/build_book.py)
.PHONY: test-browser

test-browser: $(STAMP) build/book/index.html  ## real-browser tests: the student's JupyterLab and the book
	@test -x "$(CHROMIUM)" || { test "$$(id -u)" = 0 && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
		{ echo "Chromium is missing: apt-get install chromium (or set CHROMIUM=path)"; exit 1; }
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install --quiet playwright
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest tests/browser

build/book/index.html: $(BOOK_INPUTS)
	$(MAKE) book

lint: $(STAMP)  ## ruff: style and common mistakes
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src autograder scripts tests

format: $(STAMP)  ## ruff: rewrite files in the project's format
	$(VENV)/bin/ruff format src autograder scripts tests
	$(VENV)/bin/ruff check --fix .

student-copy: $(STAMP)  ## write the student copy of nnlib (stubs) to build/student-nnlib
	$(PY) -m autograder.student_copy build/student-nnlib/nnlib

# ---- notebooks: nbgrader release and the self-study book
.PHONY: release-notebooks book

release-notebooks: $(STAMP)  ## regenerate notebooks/ from solutions/ with nbgrader
	$(PY) scripts/release_notebooks.py

# The book is the notebooks' full-size run (CI's too), whatever NNLIB_QUICK the shell holds.
book: $(STAMP)  ## execute the solution notebooks, write the HTML book to build/book/
	NNLIB_QUICK=0 $(PY) scripts/build_book.py --out build/book

# ---- the instructor's term: release, collect, grade, formgrader, export, merge
# Everything a term produces lives in grading/ (the nbgrader course folder: gradebook.db,
# submitted/, autograded/; library/ for the library grades; the CSVs), which `make clean` keeps.
# nbgrader reads nbgrader_config.py from the folder it runs in: these targets run from the kit
# root, where that file points nbgrader at grading/.
.PHONY: collect grade-notebooks formgrader export merge bench-notebooks self-study
COURSE      := grading
SUBMISSIONS ?=
TIMESTAMPS  ?=
OUT         ?= $(COURSE)/library
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
PORT        ?= 8888
# The notebooks' experiments at their reduced size (NNLIB_QUICK=1) in grade-notebooks and
# bench-notebooks; QUICK=0 runs them at the students' size. Scores do not depend on it.
QUICK       ?= 1
QUICK_FLAG   = $(if $(filter 0,$(QUICK)),--full,$(if $(filter 1,$(QUICK)),,$(error \
	QUICK=$(QUICK) is not understood: use QUICK=1 (quick, the default) or QUICK=0 (full size))))
ROOT_FLAG   := $(if $(filter 0,$(shell id -u)),--allow-root)

release: $(STAMP)  ## student bundle (build/student, .zip) and the gradebook grading/gradebook.db
	$(PY) scripts/release_notebooks.py --gradebook $(COURSE)/gradebook.db
	$(PY) -m autograder.bundle build/student

collect: $(STAMP)  ## notebooks into grading/submitted: make collect SUBMISSIONS=dir [TIMESTAMPS=csv]
	@test -n "$(SUBMISSIONS)" || { echo "usage: make collect SUBMISSIONS=folder [TIMESTAMPS=times.csv]"; exit 2; }
	$(PY) -m autograder.collect "$(SUBMISSIONS)" --course $(COURSE) $(if $(TIMESTAMPS),--timestamps "$(TIMESTAMPS)")

grade-notebooks: $(STAMP)  ## nbgrader autograde of new/changed notebooks, in parallel [JOBS=n FORCE=1 QUICK=0]
	$(PY) -m autograder.notebook_grading grade --course $(COURSE) --jobs $(JOBS) $(if $(FORCE),--force) \
		$(QUICK_FLAG)

formgrader: $(STAMP)  ## grade written answers by hand: nbgrader's formgrader in JupyterLab [PORT=8888]
	@test -f $(COURSE)/gradebook.db || { echo "no gradebook in $(COURSE)/: run make release first"; exit 2; }
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/jupyter lab --LabApp.default_url=/formgrader \
		--port=$(PORT) --ServerApp.port_retries=0 $(ROOT_FLAG)

export: $(STAMP)  ## write grading/nbgrader_grades.csv from the gradebook (fails if nothing is graded)
	$(PY) -m autograder.notebook_grading export --course $(COURSE)

merge: $(STAMP)  ## one row per student: grading/class_grades.csv (notebooks, library, time, status)
	$(PY) -m autograder.merge $(COURSE)/nbgrader_grades.csv $(OUT)/grades.csv \
		--submissions $(COURSE)/submissions.csv --out $(COURSE)/class_grades.csv

bench-notebooks: $(STAMP)  ## seconds per student of notebook grading with 1 and 2 jobs [QUICK=0]
	$(PY) scripts/bench_notebooks.py $(QUICK_FLAG)

grade: $(STAMP)  ## grade the library tasks: make grade SUBMISSIONS=dir [OUT=grading/library JOBS=n]
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder [OUT=grading/library] [JOBS=2]"; exit 2; }
	$(PY) -m autograder.grader.cli "$(SUBMISSIONS)" --out "$(OUT)" --jobs $(JOBS)

self-study: $(STAMP)  ## a self-study workspace in build/self-study/: stubs + student notebooks, solutions beside
	$(PY) scripts/self_study.py build/self-study

# ---- Gradescope export and the grader's corpus
gradescope: $(STAMP)  ## write the Gradescope autograder build/gradescope/autograder.zip
	$(PY) -m autograder.gradescope build build/gradescope/autograder.zip

grade-samples: $(STAMP)  ## grade the sample corpus; fail if a sample misses its expected score
	$(PY) scripts/grade_samples.py

bench-grader: $(STAMP)  ## seconds per submission of the library grader with 1 and 2 jobs
	$(PY) scripts/bench_grader.py

# ---- the fast path's benchmark: build/bench/bench.json and bench.png
# OPENBLAS_CORETYPE, when set in the environment, pins OpenBLAS to slower kernels: unset here.
.PHONY: bench bench-torch

bench: $(STAMP)  ## time the fast path against its GEMM floor (and PyTorch if installed)
	env -u OPENBLAS_CORETYPE $(PY) scripts/bench.py --out build/bench

bench-torch: $(STAMP)  ## install the optional torch==2.13.0 (CPU) into .venv, then make bench
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==2.13.0
	$(MAKE) bench

# Grades are never cleaned: grading/ is not touched, and build/grades (nnlib-grade's former default
# output folder) is kept.
clean:  ## remove build outputs (keeps .venv, grading/ and build/grades)
	if [ -d build ]; then find build -mindepth 1 -maxdepth 1 ! -name grades -exec rm -rf {} +; fi
	rm -rf .pytest_cache .ruff_cache .hypothesis
