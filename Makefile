# The two commands of the README: `make run` serves on http://127.0.0.1:8000, `make test` tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/gitserver serve

test: $(STAMP)
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check gitserver hooks checker mailer tests bench
	$(VENV)/bin/pylint --rcfile checker/pylintrc gitserver hooks checker mailer bench

bench: $(STAMP)
	$(PY) -m bench.bench_push_clone

clean:
	rm -rf $(VENV) data
