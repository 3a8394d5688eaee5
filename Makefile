# The two commands a new user needs: `make book` and `make test`.
# Both create (once) and reuse .venv, install the pinned environment, and register the
# Jupyter kernel `psmbook` inside that environment.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
KERNEL ?= psmbook
STAMP  := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev
# Parameter overrides for the book, e.g. make book PARAMS="seed=7"; FORCE=1 re-executes every chapter.
# Passed to the recipe through the environment and split as a shell would, so a value with spaces is
# quoted inside: make book PARAMS='data="my data/cohort.csv" study=study.yaml'
PARAMS ?=
export PARAMS
FORCE  ?=

.PHONY: help book test lint serve lab params cohort setup setup-dev browser r lock pdf clean

PORT ?= 8000

help:  ## list the targets and what each does
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 10

book: setup  ## set up, execute every chapter, build the site (PARAMS="name=value ...", FORCE=1)
	$(PY) -m psmbook build -p "$$PARAMS" $(if $(FORCE),--force)

test: setup-dev browser r  ## set up, run every test (unit, layout and ruff, the whole book, the browser, R parity)
	$(PY) -m pytest

# ruff: fix what it can, format, then list what is left (make test checks the same, without fixing).
lint: setup-dev  ## ruff: fix what it can, format, list what is left
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The browser test opens the built site in Debian's headless Chromium; install it when missing
# (needs root, as in CI; elsewhere the browser test is skipped with a message).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "==> installing Debian's chromium for the browser test"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "==> could not install chromium: the browser test will be skipped"; }

# The parity tests compare our numbers with R's survival and MatchIt (Debian's packages, with jsonlite to
# hand results back); install them when missing, as for chromium (elsewhere those tests are skipped).
R_PACKAGES := r-base-core r-cran-survival r-cran-matchit r-cran-jsonlite
r:
	@Rscript -e 'for (p in c("survival", "MatchIt", "jsonlite")) stopifnot(requireNamespace(p, quietly = TRUE))' \
	  >/dev/null 2>&1 || { \
	  echo "==> installing Debian's R, survival and MatchIt for the parity tests"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(R_PACKAGES) >/dev/null; } \
	  || echo "==> could not install R: the R parity tests will be skipped"; }

params: setup  ## every parameter, its default and meaning
	$(PY) -m psmbook params

# The PSM lab live in JupyterLab (widgets call Python): the executed book, beside its data and results.
lab: book  ## the PSM lab live in JupyterLab
	$(VENV)/bin/jupyter lab --notebook-dir=book book/07_lab.ipynb


# make cohort SEED=7 OUT=cohort.csv
SEED ?= 20250531
OUT  ?= cohort.csv
cohort: setup  ## export the synthetic cohort (SEED=7 OUT=cohort.csv)
	$(PY) -m psmbook cohort --seed $(SEED) --out $(OUT)

setup: $(STAMP)

# Tests and development tools (pytest, ruff, ...), on top of the run-time environment: make test and lint.
setup-dev: $(STAMP_DEV)

$(STAMP_DEV): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP_DEV)

$(STAMP): requirements.txt pyproject.toml
	@echo "==> setting up $(VENV) (first run takes a few minutes)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (psmbook)"
	touch $(STAMP)

# Re-resolve the two locks with pip-tools, in a scratch environment: requirements.in -> requirements.txt (run
# time: make book, Binder), requirements-dev.in -> requirements-dev.txt (tests, lint; the versions they share
# are those of requirements.txt). Versions already pinned stay unless a new requirement needs another;
# UPGRADE=1 moves everything to the newest versions that fit.
PIP_TOOLS ?= pip-tools==7.6.2
UPGRADE   ?=
lock: export CUSTOM_COMPILE_COMMAND = make lock
lock:  ## re-resolve requirements.in and requirements-dev.in into the pinned requirements.txt and -dev.txt (UPGRADE=1)
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -m pip install --quiet --disable-pip-version-check $(PIP_TOOLS)
	.lockvenv/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
	  $(if $(UPGRADE),--upgrade) --output-file requirements.txt requirements.in
	.lockvenv/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
	  $(if $(UPGRADE),--upgrade) --output-file requirements-dev.txt requirements-dev.in
	rm -rf .lockvenv

# The whole book as one PDF, printed page by page by Debian's headless Chromium (installed when missing).
pdf: book browser  ## the whole book as one PDF: book/_build/pdf/book.pdf
	$(PY) -m psmbook.book.pdf book

# The built site on http://127.0.0.1:$(PORT)/ (builds the book first if there is none).
serve: setup  ## view the built site in a browser, on this machine only (PORT=8000)
	@test -f book/_build/html/index.html || $(MAKE) book
	@echo "==> the book on http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory book/_build/html

clean:  ## remove the built book and the test artefacts
	rm -rf book/_build book/*.ipynb book/results book/data book/*.md book/*.bib .build test-artifacts
