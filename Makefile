# Two commands for a new user: `make demo` and `make test`. Both run `make setup` first,
# which is idempotent: it reinstalls only when pyproject.toml changed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
GLUE_DIR ?= $(firstword $(wildcard ../shared/data/glue) $(SBF_GLUE_DIR))
export SBF_GLUE_DIR := $(GLUE_DIR)

.PHONY: setup demo test test-all lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[ml,sim,hls,ray,dev]'
	@bash scripts/install-system-deps.sh || true
	@rm -f $(VENV)/.installed-* && touch $@

demo: setup
	$(BIN)/sbf demo

test: setup
	$(BIN)/python -m pytest -m "not slow" -n 2 --dist loadgroup -q

test-all: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf out build sim_build .pytest_cache
