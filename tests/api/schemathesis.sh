#!/usr/bin/env bash
# schemathesis against the real API: a running `leadorch daemon --adapter sim` (rules acting
# on the simulated account) on a free loopback port over a fresh SQLite database in a
# temporary folder, with an admin key made by `leadorch keys create` and given its own high
# rate limit (`[api.key_limits]`, every other key keeps the default);
# schemathesis loads /openapi.json with that key and checks every documented operation
# (server errors, answers that do not match their documented schema, status codes and
# content types the description does not list, requests it should refuse or accept).
#
#   tests/api/schemathesis.sh            (tests/run calls it after cargo test)
#
# Environment:
#   LEADORCH_BIN            the binary to serve (default: $CARGO_TARGET_DIR/debug/leadorch,
#                           else target/debug/leadorch; build it first)
#   SCHEMATHESIS            the `st` command (default: st on PATH); tests/run passes its venv's,
#                           installed from tests/api/requirements.txt
#   SCHEMATHESIS_EXAMPLES   test cases per operation and phase (default 25)
#   SCHEMATHESIS_SEED       the generator's seed (default 1, so CI runs the same cases each
#                           time; change it locally to explore)
#
# Any non-zero exit of schemathesis fails this script, whatever it means: 1 is a failed check,
# but 2 is not "usage" — it is also a schema that could not be loaded or a run that tested
# nothing — and 124 is the time limit below. Each is a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=${LEADORCH_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/leadorch}
st=${SCHEMATHESIS:-st}
examples=${SCHEMATHESIS_EXAMPLES:-25}
seed=${SCHEMATHESIS_SEED:-1}
# Seconds the whole run may take (it takes well under a minute on 2 cores).
limit=300

[ -x "$bin" ] || { echo "schemathesis.sh: no leadorch binary at $bin (cargo build -p leadorch)" >&2; exit 1; }
command -v "$st" >/dev/null 2>&1 || { echo "schemathesis.sh: no schemathesis ($st): pip install -r tests/api/requirements.txt" >&2; exit 1; }

work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL="sqlite://$work/leadorch.db"
export LEADORCH_MASTER_KEY_FILE="$work/master.key"
unset LEADORCH_CONFIG LEADORCH_LISTEN
# No rate limit: schemathesis sends as fast as it can, and 429 (documented on every keyed
# operation) would only hide the answers it checks.
key=$("$bin" keys create --name st --scopes admin 2>"$work/keys.log") || { cat "$work/keys.log" >&2; exit 1; }
key_id=$(grep -o 'made key_[A-Za-z0-9]*' "$work/keys.log" | sed 's/^made //')
[ -n "$key_id" ] || { echo "schemathesis.sh: no key id in: $(cat "$work/keys.log")" >&2; exit 1; }

# Every other key keeps the default limit; the test key gets a high one of its own, so the
# limiter runs (its RateLimit fields are checked) without refusing schemathesis.
cat > "$work/leadorch.toml" <<EOF
[api]
requests_per_second = 100
burst = 200

[api.key_limits.$key_id]
requests_per_second = 100000
burst = 100000
EOF

# An example rule, enabled, so the daemon decides while schemathesis runs.
"$bin" rules save rules/capacity_gate.rhai --enable >"$work/rules.log" 2>&1 || { cat "$work/rules.log" >&2; exit 1; }

# A running daemon (the simulated account acting on the simulated campaigns), as the issue
# asks: its API, with rules acting beside the requests.
"$bin" daemon --adapter sim --listen 127.0.0.1:0 --config "$work/leadorch.toml" 2>"$work/serve.log" &
server=$!
base=
for _ in $(seq 1 100); do
  base=$(grep -oE '(listening on|HTTP API on) http://[0-9.:]*' "$work/serve.log" | head -n 1 | sed -E 's/^(listening on|HTTP API on) //') || true
  [ -n "$base" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "schemathesis.sh: leadorch daemon did not start:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
echo "schemathesis $("$st" --version | sed 's/.* //') against $base (examples $examples, seed $seed)"

# Checks turned off for some operations, each with its reason: tests/api/schemathesis.toml.
config="$PWD/tests/api/schemathesis.toml"

# --workers 1: with more, hypothesis's lambda-source reader races in CPython 3.11's ast
# ("AST constructor recursion depth mismatch") and the run reports errors that are not the
# API's.
# It runs in the temporary folder, where it leaves its .schemathesis and .hypothesis folders.
started=$(date +%s)
set +e
(cd "$work" && timeout "$limit" "$st" --config-file "$config" run "$base/openapi.json" \
  --header "Authorization: Bearer $key" \
  --max-examples "$examples" \
  --seed "$seed" \
  --workers 1 \
  --request-timeout 35 \
  --generation-database none \
  --no-color)
code=$?
set -e
echo "schemathesis took $(( $(date +%s) - started )) s"
if [ "$code" -ne 0 ]; then
  case "$code" in
    1) why="a check failed" ;;
    2) why="the schema could not be loaded or nothing was tested" ;;
    124) why="it took longer than $limit s" ;;
    *) why="exit code $code" ;;
  esac
  echo "schemathesis FAILED: $why; the server said:" >&2
  tail -n 40 "$work/serve.log" >&2
  exit "$code"
fi
echo "schemathesis: every check passed"
