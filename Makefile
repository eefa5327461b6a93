# Two commands do all the set-up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-es install bench clean

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

# The Elasticsearch contract suite against the `elasticsearch` service of deploy/compose.yaml (needs Docker).
# Security is on there: the password is ELASTIC_PASSWORD from deploy/.env, passed in the environment (never on
# a command line make prints). ES_TEST_URL=elasticsearchs://127.0.0.1:9200 (plus LISTENER_ES_CA_CERTS) if the
# service serves HTTPS.
ES_TEST_URL ?= elasticsearch://127.0.0.1:9200
COMPOSE     ?= docker compose -f deploy/compose.yaml --env-file deploy/.env
test-es: install
	$(COMPOSE) up -d elasticsearch
	@set -a; . deploy/.env; set +a; \
	export LISTENER_ES_URL='$(ES_TEST_URL)' LISTENER_ES_USERNAME=elastic LISTENER_ES_PASSWORD="$$ELASTIC_PASSWORD"; \
	for i in $$(seq 60); do \
	  $(BIN)/python -c 'from listener.store.elastic import open_elastic; import os; open_elastic(os.environ["LISTENER_ES_URL"] + "/listener-test-ready").drop()' 2>/dev/null && break; \
	  echo "waiting for Elasticsearch ($$i)"; sleep 5; \
	done; \
	$(BIN)/python -m pytest -q tests/test_store_elastic.py tests/test_query_elastic.py

bench: install
	$(BIN)/python bench/bench_store.py --n 100000
	$(BIN)/python bench/bench_pipeline.py --n 50000
	$(BIN)/python bench/bench_model.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
