VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: install
	$(PY) -m ruff check compiler tests bench
	$(PY) -m pytest -q

demo: install
	bash examples/demo.sh

lint: install
	$(PY) -m ruff check compiler tests bench

clean:
	rm -rf $(VENV) build *.egg-info
