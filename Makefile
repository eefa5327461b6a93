# Two commands do all the set-up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test install bench clean

# The virtual environment, rebuilt when the dependencies change. torch is installed first and pinned:
# `torch==2.13.0` is a CPU build on these machines' disk; an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,scale]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/listener demo

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/bench_store.py --n 100000
	$(BIN)/python bench/bench_pipeline.py --n 50000
	$(BIN)/python bench/bench_model.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
