VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test test-slow test-all demo lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The fast tier (under 10 minutes on 2 cores); the slow end-to-end sweeps are `test-slow`,
# and CI runs both (.ci/run).
test: install
	$(PY) -m ruff check compiler tests bench
	$(PY) -m pytest -q -m "not slow"

test-slow: install
	$(PY) -m pytest -q -m slow

test-all: install
	$(PY) -m ruff check compiler tests bench
	$(PY) -m pytest -q

demo: install
	bash examples/demo.sh

lint: install
	$(PY) -m ruff check compiler tests bench

clean:
	rm -rf $(VENV) build *.egg-info
