# The only commands a newcomer needs: `make up` runs everything, `make test` runs the suite.
# Needs only python3 (3.11+): uv is bootstrapped into .tools/ at a pinned version.

UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
# Trust the operating system's CA store (registries behind a corporate/CI proxy need it).
export UV_SYSTEM_CERTS := 1

.PHONY: install up test lint fmt clean

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen

up: install
	$(VENV)/bin/ringready up --demo

test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(TOOLS)
