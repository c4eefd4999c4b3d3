# Keras Deep Dive: `make lab` launches the course, `make test` runs the tests.
# Both first run `make install`, which is quick once the virtual environment is up to date.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
LAB_ARGS ?=
# Jupyter refuses to run as root (containers, CI) unless told it is deliberate.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=

.PHONY: install lab test release check lint clean

install: $(STAMP)
	@bash scripts/install_system_deps.sh

# Re-install only when the dependency lists change. constraints.txt pins the exact versions
# the tests run on; pyproject.toml keeps ranges so that Colab keeps its own TensorFlow.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[course,dev]'
	@touch $(STAMP)

lab: install
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/notebooks $(ROOT_FLAG) $(LAB_ARGS)

test: install
	COURSE_SIZE=small $(PY) -m pytest $(PYTEST_ARGS)

release: install
	$(PY) -m autograder release

check: install
	$(PY) -m autograder check

lint: install
	$(VENV)/bin/pre-commit run --all-files

clean:
	rm -rf $(VENV) .pytest_cache
