# Two commands on a fresh Debian machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed

.PHONY: run test test-fast demo bench clean system-deps test-deps

# What the app needs (requirements.txt) and, for the tests, what they add (requirements-dev.txt: pytest,
# Playwright, chDB for the ClickHouse path …): `make run` installs only the first.
$(RUN_STAMP): requirements.txt
	@# Debian's python3 ships without venv/ensurepip until python3-venv is installed
	@$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv python3-pip >/dev/null; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# Port and address come from Streamlit's own settings (STREAMLIT_SERVER_PORT, STREAMLIT_SERVER_ADDRESS);
# the address is loopback unless set: without sign-in the app refuses any other (README, 用户与登录).
run: $(RUN_STAMP) system-deps
	STREAMLIT_SERVER_ADDRESS=$${STREAMLIT_SERVER_ADDRESS:-127.0.0.1} $(PY) -m streamlit run app.py

# The browser tests need Chromium and CJK fonts; install them when missing (root on Debian).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
		echo "安装 chromium 与 fonts-noto-cjk …"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium fonts-noto-cjk fontconfig >/dev/null; \
	fi

# Tests only: LibreOffice headless opens the exported CSV/XLSX the way a spreadsheet user's program does
# (calc) and renders each deck to PDF (impress); pdftoppm (poppler-utils) turns the PDF pages into the
# PNGs kept under artifacts/decks/; nginx-light fronts two replicas in tests/test_replicas.py (`make run`
# serves one process and needs no nginx).
TEST_PACKAGES := libreoffice-calc-nogui libreoffice-impress-nogui libreoffice-writer-nogui poppler-utils nginx-light
test-deps:
	@dpkg -s $(TEST_PACKAGES) >/dev/null 2>&1 || { echo "安装 $(TEST_PACKAGES) …"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(TEST_PACKAGES) >/dev/null; }

# Two workers, a whole test file to each (module fixtures such as a browser or a server stay whole):
# the suite is measured on two cores.
PYTEST_WORKERS ?= -n 2 --dist loadfile

test: $(STAMP) system-deps test-deps
	$(PY) -m pytest -q $(PYTEST_WORKERS)

test-fast: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_WORKERS) -m "not browser"

demo: $(RUN_STAMP)
	$(PY) -m minsheng demo

# The benchmark on a small synthetic set of its own; see README "Performance" for the full runs.
bench: $(RUN_STAMP)
	$(PY) -m minsheng bench --smoke

clean:
	rm -rf $(VENV) .pytest_cache
