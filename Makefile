# The only commands a newcomer needs: `make up` runs everything, `make test` runs the suite.
# Needs only python3 (3.11+): uv is bootstrapped into .tools/ at a pinned version.

UV_VERSION := 0.13.9
PIP_AUDIT_VERSION := 2.10.1
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
# Trust the operating system's CA store (registries behind a corporate/CI proxy need it).
export UV_SYSTEM_CERTS := 1

.PHONY: install up test lint fmt audit clean

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen

up: install
	$(VENV)/bin/ringready up --demo

# Two processes (pytest-xdist): the slow fault tests one after another in one, the rest in the other.
TEST_PROCESSES ?= 2

test: install
	$(VENV)/bin/pytest -n $(TEST_PROCESSES) --dist loadgroup

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Known vulnerabilities in every locked package (PyPI's advisory data). --strict: a package that
# could not be checked fails the audit too. Not in CI: the advisory service is not reachable there.
audit: install
	$(UV) export --frozen --format requirements-txt --no-emit-project --quiet > $(TOOLS)/audit-requirements.txt
	$(UV) tool run --quiet pip-audit==$(PIP_AUDIT_VERSION) --strict --disable-pip --no-deps \
		--progress-spinner off -r $(TOOLS)/audit-requirements.txt

clean:
	rm -rf $(VENV) $(TOOLS)
