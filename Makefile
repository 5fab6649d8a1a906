# The two commands: `make run` (demo on embedded SQLite) and `make test` (every test).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
FLASK = $(BIN)/flask --app lianduinspect

.PHONY: install run test browsers bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

# Debian's Chromium drives the browser tests (Playwright never downloads a browser of its own);
# a CJK font makes the screenshots of the Chinese screens readable.
browsers:
	@command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q . || scripts/install-chromium

run: install
	$(FLASK) db upgrade
	$(FLASK) demo load --if-empty
	LIANDUINSPECT_SCHEDULER_ENABLED=true $(FLASK) run --host 127.0.0.1 --port 5000

test: install browsers
	$(BIN)/pytest

# Benchmarks print ratios against a floor measured in the same run; every script runs even if one fails.
bench: install browsers
	cd bench && npm ci --silent --no-audit --no-fund
	@failed=0; for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || failed=1; done; exit $$failed

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
