# `make demo`: set up and run the end-to-end demo on the embedded defaults.
# `make test`: set up and run the test suite.
# `make experiments`: the paper's two experiments at demo size (they test the machinery, not the claim).
# Both create (or reuse) a virtual environment in .venv and install the project with its dev extra.
# constraints.txt pins the CPU build of torch on machines without a GPU; GPU machines bring their own.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install test demo experiments bench clean

install: $(STAMP)

# llama-cpp-python has no wheel on PyPI and builds llama.cpp from source (about 5 minutes on 2
# cores): leave out its multimodal library (mtmd: 51 of 178 compile units), which a text-only
# teacher never loads (llama_cpp imports it only for image chat handlers).
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(BIN)/pip install --upgrade pip setuptools wheel
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $$CMAKE_ARGS" PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/textbooks run demo --run-dir runs/demo

experiments: $(STAMP)
	$(BIN)/textbooks experiment data-quality data-quality-demo
	$(BIN)/textbooks experiment pruning pruning-demo

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
