# Two entry points for a fresh Debian/Ubuntu machine: `make demo` and `make test`.
# Both install what they need (apt packages from packages.txt, then Python packages into
# .venv) and skip every step that is already done, so a second run installs nothing.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
export GRADIO_ANALYTICS_ENABLED ?= False
export PYOPENGL_PLATFORM ?= egl
export HF_HUB_DISABLE_TELEMETRY ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: demo test lab screenshots bench lint install apt clean browser

demo: install
	$(PY) app.py

test: install browser
	$(PY) -m pytest -q

# the face lab's own tests (MediaPipe read-back of the photo rig; slow, not part of `make test`)
lab: install
	$(PY) -m pytest -q lab/tests

# refresh the README's screenshots in docs/ (the browser tests write them to a temporary folder)
screenshots: install browser
	EMO_SCREENSHOTS=$(CURDIR)/docs $(PY) -m pytest -q tests/test_browser.py -k "see_the_face or click_the_sphere"

bench: install
	$(PY) -m benchmarks.run_all

lint: install
	$(VENV)/bin/ruff check .

install: apt $(STAMP)

# apt: install only the packages of packages.txt that are missing, and python3-venv (without it
# Debian's and Ubuntu's python3 cannot make the .venv; Spaces never runs the Makefile).
apt:
	@missing=""; for p in $$(grep -v "^\s*#" packages.txt) python3-venv; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing apt packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changes.
$(STAMP): requirements.txt requirements-nodeps.txt requirements-dev.txt pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -qq --no-deps -e .  # -qq: setuptools' boxed notice about editable installs
	touch $(STAMP)

# Debian's chromium for the Playwright browser tests (never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
