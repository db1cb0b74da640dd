#!/usr/bin/env bash
# Times audit-log requests over real HTTP against `leadorch serve` on a seeded database
# (docs/BENCHMARKS.md, "Audit log windows"). Run it in a scratch folder:
#   DATABASE_URL=sqlite:///tmp/a.db LEADORCH_MASTER_KEY_FILE=/tmp/master.key \
#     LEADORCH_BIN=target/release/leadorch docs/audit-log-measure.sh
set -euo pipefail
bin=${LEADORCH_BIN:-target/release/leadorch}
: "${DATABASE_URL:?set DATABASE_URL to the seeded database}"
key=$($bin keys create --name "bench-$(date +%s)" --scopes read 2>/dev/null)
$bin serve --listen 127.0.0.1:0 2> serve.log &
server=$!
trap 'kill $server' EXIT
for _ in $(seq 1 300); do base=$(grep -oE 'http://127[0-9.:]*' serve.log | head -n1) && [ -n "$base" ] && break; sleep 0.2; done
echo "server $base"
t() { curl -s -o /tmp/audit-out.json -w "%{http_code} %{time_total}s %{size_download}B  $1\n" -H "authorization: Bearer $key" "$base$1"; }
# warm-up: the facts view (which campaigns are whose) catches up with the log once; a request
# cut by the 30 s deadline keeps what it folded, so repeat until it answers.
for _ in 1 2 3 4 5 6; do t "/v1/events?limit=1"; grep -q '"head"' /tmp/audit-out.json && break; done
head=$(python3 -c 'import json;print(json.load(open("/tmp/audit-out.json"))["head"])')
echo "head $head"
for i in 1 2 3; do
t "/v1/events?limit=100"
t "/v1/events?before=$((head+1))&limit=100"
t "/v1/events?type=LeadReceived&before=$((head+1))&limit=100"
t "/v1/events?type=ChangeRequested&limit=100"
t "/v1/events?actor=daemon&before=$((head+1))&limit=100"
t "/v1/events?after=500000&limit=100"
t "/v1/events/count"
t "/v1/events/count?type=LeadReceived"
t "/v1/events/count?actor=seed"
t "/v1/events/$((head/2))"
done
