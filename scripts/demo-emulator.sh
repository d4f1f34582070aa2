#!/usr/bin/env bash
# `finmesh demo --target emulator` with its stand-ins: starts fake-gcs-server (with the lake's bucket), the BigQuery
# emulator (reading that server's objects for gs:// loads) and Pub/Sub's pstest on free loopback ports, runs the demo
# with the standard emulator variables pointing at them, and stops them after. The stand-ins are those
# `bash scripts/install-gcp-stand-ins.sh --with-bigquery` installs under .cache/. Arguments go to `finmesh demo`:
#   bash scripts/demo-emulator.sh --seconds 30
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.cache/go/bin
bqemu=.cache/bqemu/bin/bqemulator
for tool in "$bin/fake-gcs-server" "$bin/pstest" "$bqemu"; do
  [ -x "$tool" ] || { echo "demo-emulator: $tool not found: run bash scripts/install-gcp-stand-ins.sh --with-bigquery" >&2; exit 2; }
done

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() {
  for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "demo-emulator: nothing listens on $1 after 60 s" >&2; exit 1
}

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

gcs_port=$(free_port); bq_port=$(free_port); bq_grpc=$(free_port); ps_port=$(free_port)
mkdir -p "$work/gcs"
"$bin/fake-gcs-server" -scheme http -host 127.0.0.1 -port "$gcs_port" -backend filesystem \
  -filesystem-root "$work/gcs" -public-host "127.0.0.1:$gcs_port" -log-level warn >"$work/gcs.log" 2>&1 &
pids+=($!)
BQEMU_GCS_LOCAL_ROOT="$work/gcs" "$bqemu" start --rest-port "$bq_port" --grpc-port "$bq_grpc" \
  --project fintech-emulated --log-level warning >"$work/bq.log" 2>&1 &
pids+=($!)
"$bin/pstest" -port "$ps_port" >"$work/pstest.log" 2>&1 &
pids+=($!)
wait_port "$gcs_port"; wait_port "$bq_port"; wait_port "$ps_port"
# The bucket the demo workspace's `emulator` target names (on Google Cloud, `finmesh iac terraform` creates it).
curl -sf -X POST -H 'content-type: application/json' -d '{"name":"fintech-lake"}' \
  "http://127.0.0.1:$gcs_port/storage/v1/b?project=fintech-emulated" >/dev/null

echo "demo-emulator: fake-gcs-server 127.0.0.1:$gcs_port, BigQuery emulator 127.0.0.1:$bq_port, pstest 127.0.0.1:$ps_port" >&2
STORAGE_EMULATOR_HOST="http://127.0.0.1:$gcs_port" BIGQUERY_EMULATOR_HOST="127.0.0.1:$bq_port" \
  PUBSUB_EMULATOR_HOST="127.0.0.1:$ps_port" node bin/finmesh.js demo --target emulator "$@"
