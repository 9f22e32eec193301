# Two commands: `make demo` and `make test` (both set up .venv on first use).
PYTHON_SYSTEM ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export PYTHON := $(abspath $(PY))
export PYTHONPATH := $(CURDIR)

.PHONY: demo test lint bench setup clean-demo

setup: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# The GOT-10k toolkit, only to cross-check our tracking metrics in the tests.
	# --no-deps: its declared opencv-python would clash with opencv-python-headless.
	$(PY) -m pip install --quiet --no-deps got10k==0.1.3 shapely==2.2.0 six==1.17.0 wget==3.2
	touch $(STAMP)

demo: $(STAMP)
	bash goturn/test/train_full_1p.sh
	bash glore/test/train_full_1p.sh

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) -m bench

clean-demo:
	rm -rf dataset/goturn_demo dataset/glore_demo goturn/runs glore/runs
