#!/usr/bin/env bash
# Installs the local stand-ins for Google Cloud that the GCS, BigQuery and Pub/Sub tests start (test/gcp-stand-ins.ts),
# under .cache/ (ignored by git). Idempotent: what is there already is kept. Needs Go and Python 3 (pip, venv).
#   - fake-gcs-server (Cloud Storage JSON API), from the Go module proxy;
#   - pstest, Google's in-memory Pub/Sub server (cloud.google.com/go/pubsub/v2/pstest), built from test/pstest;
#   - bqemulator (BigQuery REST API over DuckDB), from PyPI in a venv, with DuckDB's spatial extension taken from
#     the wheel duckdb-extension-spatial (it cannot be downloaded by DuckDB itself here).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export GOBIN="$root/.cache/go/bin"
mkdir -p "$GOBIN"

FAKE_GCS_VERSION=v1.56.1
BQEMULATOR_VERSION=1.4.0
DUCKDB_VERSION=1.5.5

if [ ! -x "$GOBIN/fake-gcs-server" ]; then
  echo "== go install fake-gcs-server@$FAKE_GCS_VERSION"
  go install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION"
fi

if [ ! -x "$GOBIN/pstest" ] || [ test/pstest/main.go -nt "$GOBIN/pstest" ] || [ test/pstest/go.sum -nt "$GOBIN/pstest" ]; then
  echo "== go build test/pstest"
  (cd test/pstest && go build -o "$GOBIN/pstest" .)
fi

# The BigQuery emulator (~580 MB) only with --with-bigquery (.ci/run passes it): the BigQuery engine's tests start it.
if [ "${1:-}" = "--with-bigquery" ]; then
  venv="$root/.cache/bqemu"
  if [ ! -x "$venv/bin/bqemulator" ]; then
    echo "== pip install bqemulator==$BQEMULATOR_VERSION (venv .cache/bqemu)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check \
      "bqemulator==$BQEMULATOR_VERSION" "duckdb==$DUCKDB_VERSION" "duckdb-extension-spatial==$DUCKDB_VERSION" numpy
  fi
  ext_dir="$HOME/.duckdb/extensions/v$DUCKDB_VERSION/linux_amd64"
  if [ ! -f "$ext_dir/spatial.duckdb_extension" ]; then
    echo "== DuckDB spatial extension from the duckdb-extension-spatial wheel"
    src=$(find "$venv" -path "*duckdb_extension_spatial/extensions/v$DUCKDB_VERSION/spatial.duckdb_extension" | head -n 1)
    mkdir -p "$ext_dir"
    cp "$src" "$ext_dir/"
  fi
fi
