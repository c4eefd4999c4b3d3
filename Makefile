# Keras Deep Dive: `make lab` launches the course (the student's own copies, in workspace/),
# `make instructor` the instructor copies, `make test` runs the tests, `make help` lists every
# target. Most first run `make install`, which is quick once the virtual environment is up to date. Without make (Windows): README.md, "Without make".

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
LAB_ARGS ?=
# Jupyter refuses to run as root (containers, CI) unless told it is deliberate.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=
# The student's working folder (git-ignored): their own copies of the chapters, made from the
# student copies in autograder/release/ by course_utils/workspace.py; `make lab` serves it.
WORKSPACE ?= workspace
# The notebook a newcomer starts with: the first chapter (its student copy's file name).
LAB_START := $(notdir $(firstword $(sort $(wildcard autograder/release/[0-9][0-9]_*/[0-9][0-9]_*.ipynb))))
# The instructor copies: solutions and hidden tests.
INSTRUCTOR_START := $(firstword $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb)))

.PHONY: help install lab instructor test release check lint clean
.DEFAULT_GOAL := help

help: ## list the targets (this text)
	@echo "Keras Deep Dive: make <target>"
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z]+):.*## /\1|/' | \
	  awk -F'|' '{ printf "  make %-11s %s\n", $$1, $$2 }'

install: $(STAMP) ## create .venv/ with the course, TensorFlow and the test tools (+ Debian packages)
	@bash scripts/install_system_deps.sh

# Re-install only when the dependency lists change. constraints.txt pins the exact versions
# the tests run on; pyproject.toml keeps ranges so that Colab keeps its own TensorFlow.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[tf,course,dev]'
	@touch $(STAMP)

# The student's view. Copies the chapters missing from $(WORKSPACE)/ (never overwriting a file
# already there), then serves $(WORKSPACE)/ alone: the file browser shows the student's copies,
# not notebooks/ (the solutions). JupyterLab runs from the repository root, so nbgrader's
# Validate button reads the root's nbgrader_config.py. JupyterLab prints the URL to open (with
# its login token); that URL opens the first chapter. LAB_ARGS adds JupyterLab options, e.g.
# LAB_ARGS="--port=9999 --no-browser"; WORKSPACE=<folder> works in another folder.
lab: install ## your own copies of the chapters (workspace/) in JupyterLab; start with chapter 00
	@$(PY) -m course_utils.workspace --dest "$(abspath $(WORKSPACE))"
	@echo ""
	@echo "==> 你的练习文件在 $(WORKSPACE)/（你的改动只在这里，再次运行 make lab 不会覆盖）"
	@echo "    (your own copies are in $(WORKSPACE)/; make lab never overwrites them)"
	@echo "==> JupyterLab 启动后，在浏览器中打开它打印的网址 (open the URL it prints below:"
	@echo "    http://localhost:<port>/lab/tree/$(LAB_START)?token=<token>)"
	@echo "==> 从这一章开始 (start with): $(LAB_START)"
	@echo "==> 停止 (stop): Ctrl-C"
	@echo ""
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(abspath $(WORKSPACE))" \
	  --LabApp.default_url=/lab/tree/$(LAB_START) $(ROOT_FLAG) $(LAB_ARGS)

# The authors' view: notebooks/ as they are, solutions and hidden tests included.
instructor: install ## INSTRUCTOR copies (solutions, hidden tests) in JupyterLab: notebooks/
	@echo ""
	@echo "==> !!! INSTRUCTOR COPY: notebooks/ holds the SOLUTIONS and HIDDEN TESTS. Do not hand it"
	@echo "==> !!! to students (they use make lab: their own copies in $(WORKSPACE)/)."
	@echo "==> Open the URL JupyterLab prints below; Ctrl-C stops it."
	@echo ""
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/$(INSTRUCTOR_START) $(ROOT_FLAG) $(LAB_ARGS)

test: install ## run the whole test suite at small size (what CI runs)
	COURSE_SIZE=small $(PY) -m pytest $(PYTEST_ARGS)

release: install ## regenerate the student copies in autograder/release/
	$(PY) -m autograder release

check: install ## authors' gate: full marks for every solution, 0 for every blank copy
	$(PY) -m autograder check

lint: install ## ruff, ruff-format and nbstripout on every file (pre-commit)
	$(VENV)/bin/pre-commit run --all-files

clean: ## remove .venv/ and the test cache
	rm -rf $(VENV) .pytest_cache
