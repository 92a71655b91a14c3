# The two commands of the README. Each installs what it needs (uv, then the
# locked environment) on a fresh machine.
export UV_PYTHON_DOWNLOADS := never
# Install .pyc files: where PYTHONDONTWRITEBYTECODE is set (as on our machines),
# every process would otherwise compile Dagster from source (4.5 s vs 1.9 s).
export UV_COMPILE_BYTECODE := 1
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: run test test-fast bench lint-self uv smoke-bigquery

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==0.13.8"

## Lint the example project in sql/, then run it on DuckDB over its sample data (January 2024).
run: uv
	$(UV) sync --locked --quiet
	$(UV) run --locked sqlassets lint
	$(UV) run --locked sqlassets run --start 2024-01-01 --end 2024-02-01

## The whole test suite, plus ruff and mypy.
test: uv
	$(UV) sync --locked --quiet
	$(UV) run --locked ruff check src tests bench scripts definitions.py
	$(UV) run --locked ruff format --check src tests bench scripts definitions.py
	$(UV) run --locked mypy
	$(UV) run --locked pytest

## The edit-test loop: ruff, mypy, then every test but those marked emulator, webserver or slow
## (markers in pyproject.toml's [tool.pytest.ini_options]); under a minute on 2 cores.
## `make test` (and .ci/run) still runs everything. Pass pytest options with ARGS=...,
## e.g. `make test-fast ARGS="-k golden -x"`.
test-fast: uv
	$(UV) sync --locked --quiet
	$(UV) run --locked ruff check src tests bench scripts definitions.py
	$(UV) run --locked ruff format --check src tests bench scripts definitions.py
	$(UV) run --locked mypy
	$(UV) run --locked pytest -q -m "not emulator and not webserver and not slow" $(ARGS)

## Each statement form once on a real BigQuery project (Application Default Credentials),
## in a scratch dataset, then drops what it created: PASS/FAIL and bytes billed per form.
## Not part of `make test` (which runs it on the emulator). The load forms need GCS=gs://…
## (files are written there). `make smoke-bigquery PROJECT=my-project DATASET=sqlassets_smoke`
smoke-bigquery: uv
	@test -n "$(PROJECT)" -a -n "$(DATASET)" || { echo "usage: make smoke-bigquery PROJECT=… DATASET=… [GCS=gs://bucket/path] [LOCATION=US]"; exit 2; }
	$(UV) sync --locked --quiet
	$(UV) run --locked python scripts/smoke_bigquery.py --project "$(PROJECT)" --dataset "$(DATASET)" --location "$(or $(LOCATION),US)" $(if $(GCS),--gcs-prefix "$(GCS)")

## Benchmarks (not part of the test suite).
bench: uv
	$(UV) sync --locked --quiet
	$(UV) run --locked python bench/lint_bench.py
