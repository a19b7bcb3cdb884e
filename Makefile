# Developer entry points. `make serve` and `make test` are all a fresh machine needs.
# Python 3.12, as in the Lambda image (rasterio 1.5 / GDAL 3.12 wheels need >= 3.12).
PYTHON ?= $(shell for p in python3.12 /root/.pyenv/versions/3.12.*/bin/python3.12 python3.13 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve pipeline test sample events mutants bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt layers/geo/requirements.txt
	@test -n "$(PYTHON)" || { echo "Python >= 3.12 is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	@echo "Installing the dependencies into $(VENV) (about a minute the first time)..."
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

serve: $(VENV)/.installed  ## the API on http://localhost:8000 (no AWS account needed)
	$(BIN)/uvicorn handler.api:app --host 127.0.0.1 --port 8000

pipeline: $(VENV)/.installed  ## the API plus a local S3 store and the S3 trigger on :8000 (no AWS account)
	$(BIN)/python -m handler.local_pipeline

test: $(VENV)/.installed  ## lint and format check (ruff), then the offline test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

sample: $(VENV)/.installed  ## S2L2A_2022-06-09.tiff, the README's sample scene (real pixels when ../shared has them)
	$(BIN)/python -m tests.sample S2L2A_2022-06-09.tiff

events: $(VENV)/.installed  ## regenerate events/*.json for sam local invoke
	$(BIN)/python events/make_events.py

mutants: $(VENV)/.installed  ## mutation testing of handler/core, handler/scene and the entry points (about 70 minutes on 2 cores; Linux); report: tests/mutation-report.md
	BIN=$(BIN) SENTINEL2_DATA=$(CURDIR)/../shared/data/sentinel2 tests/mutants.sh

bench: $(VENV)/.installed  ## speed and memory vs rio-tiler (bench/README.md); not part of the tests
	$(BIN)/python -m bench.thumbnail_bench --quick
	$(BIN)/python -m bench.cog_copy_bench --quick
	$(BIN)/python -m bench.seed_upload_bench --repeat 2
	$(BIN)/python -m bench.jp2_bench
	$(BIN)/python -m bench.burst_bench
	$(BIN)/python -m bench.lambda_bench  # needs Docker and the sam build image (bench/RESULTS-lambda.md)

clean:
	rm -rf $(VENV) .pytest_cache .aws-sam
