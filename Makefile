# the studio
#   make run    serve the studio at http://localhost:8501 in embedded mode (no services needed)
#   make test   lint, type-check and test against real PostgreSQL, Redis, an S3 server and Chromium
#   make admin  create the first administrator (asks for email, username and password)
#   make bench  measure overhead, throughput and enqueue latency on the real stack (see bench/README.md)

SHELL := /bin/bash
PORT ?= 8501
UV := $(shell command -v uv >/dev/null 2>&1 && echo uv || echo python3 -m uv)

.PHONY: run test bench admin uv env chromium services lint typecheck pytest clean

uv:  ## install uv with pip when it is missing
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.5" \
		|| python3 -m pip install --quiet --user --break-system-packages "uv>=0.5"

env: uv  ## the virtualenv, exactly as locked in uv.lock
	$(UV) sync --frozen

run: env
	$(UV) run python -m studio check
	$(UV) run streamlit run studio/ui/shell/server.py --server.port $(PORT) --server.address localhost

admin: env  ## the first administrator of this installation's database
	@read -rp "Email: " email && read -rp "Username: " username && read -rp "Name: " name && \
		$(UV) run python -m studio create-admin --email "$$email" --username "$$username" --name "$$name"

chromium:  ## Debian's chromium for the browser tests (never a downloaded browser)
	@test -x /usr/bin/chromium || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

services:  ## PostgreSQL and Redis on loopback, started when they are not running
	@bash .ci/services

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck:
	$(UV) run mypy

pytest:
	@$(UV) run pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; \
	exit $$status

test: env chromium services lint typecheck pytest

bench: env services  ## measurements, not tests: each prints PASS/FAIL against its target and exits 0
	$(UV) run python bench/enqueue.py
	$(UV) run python bench/overhead.py
	$(UV) run python bench/throughput.py
	$(UV) run python bench/crash.py
	$(UV) run python bench/fairness.py
	$(UV) run python bench/sign_in.py
	$(UV) run python bench/admin_analytics.py
	$(UV) run python bench/gallery.py
	$(UV) run python bench/gallery_browser.py
	$(UV) run python bench/lineage.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache tests/artifacts
