#!/bin/sh
# A bounded load test of `pocket-tts serve` on 127.0.0.1: CONCURRENCY clients send /tts and
# /v1/audio/speech requests (alternately) for SECONDS; prints requests per second, latency
# percentiles and the server's resident memory after a warm-up and at the end. Fails on any
# request error or when the memory grew by more than 10% (plus 4 MB of allocator slack).
#
# Usage: sh bench/load_test.sh [BUILD_DIR] [SECONDS] [CONCURRENCY]   (from the repository root)
# Defaults: build, 20 s, 8 clients, the tiny test model. Other models: set SERVE_ARGS, e.g.
#   SERVE_ARGS="--language english --voice alba" sh bench/load_test.sh build 60 4
# (the server's --workers defaults to 2; SERVE_ARGS may override it).
bin=${1:-build}/pocket-tts
seconds=${2:-20}
conc=${3:-8}
args=${SERVE_ARGS:---config tests/fixtures/models/tiny/config.yaml --voice tests/fixtures/golden/tiny/voice_state.safetensors}
text=${LOAD_TEXT:-Hello world. I am Kyutai's Pocket TTS. I'm fast enough to run on small CPUs.}
client="python3 tests/tools/serve_client.py"
tmp=$(mktemp -d) || exit 1
pid=""
cleanup() {
    [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ -x "$bin" ] || { echo "no $bin: build it first" >&2; exit 1; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }

"$bin" serve $args --host 127.0.0.1 --port 0 -q >"$tmp/serve.log" 2>&1 &
pid=$!
port=$($client port "$tmp/serve.log") || { cat "$tmp/serve.log" >&2; exit 1; }
url=http://127.0.0.1:$port

echo "warm-up: $conc clients for 3 s"
$client load "$url" 3 "$conc" "$text" || exit 1
before=$(rss_kb)
echo "load: $conc clients for $seconds s"
$client load "$url" "$seconds" "$conc" "$text" || exit 1
after=$(rss_kb)
echo "server RSS: $((before / 1024)) MB after the warm-up, $((after / 1024)) MB at the end"
if [ "$after" -gt $((before + before / 10 + 4096)) ]; then
    echo "FAIL: the server's memory grew under load" >&2
    exit 1
fi
