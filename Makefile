# The two commands of the README: `make run` serves on http://127.0.0.1:8000, `make test` tests.
# `make run` installs the runtime dependencies only; the test and lint tools come with `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
SOURCES := gitserver hooks checker mailer

.PHONY: run test lint bench clean

$(RUN_STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: $(RUN_STAMP)
	$(VENV)/bin/gitserver serve

test: $(TEST_STAMP)
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

# Our own code under our own rules: dev-pylintrc (cyclic-import and duplicate-code on), not
# checker/pylintrc, which is what users' pushes get.
lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check $(SOURCES) tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pylint --rcfile dev-pylintrc $(SOURCES) bench
	$(VENV)/bin/mypy

bench: $(TEST_STAMP)
	$(PY) -m bench.bench_push_clone

clean:
	rm -rf $(VENV) data build
