#!/bin/sh
# The web page of `pocket-tts serve` in headless Chromium (Debian package `chromium`), driven
# by tests/tools/web_check.py: live playback while the WAV streams, the <audio> element
# playing the result (the CLI's exact audio), cloning only with the consent box ticked, Stop
# (the server then stops that generation), and server errors shown on the page.
# Usage: sh tests/cli/test_web.sh BUILD_DIR (run from the repository root).
# CHROMIUM=path overrides the browser.
bin=${1:-build}/pocket-tts
fx=${PTTS_FIXTURES:-tests/fixtures}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
case $fx in /*) ;; *) fx=$PWD/$fx ;; esac
client="python3 $PWD/tests/tools/serve_client.py"
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser)}
tmp=$(mktemp -d) || exit 1
export HF_HUB_OFFLINE=1 HF_HOME="$tmp/hf"
unset HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_TOKEN
pid=""
cleanup() {
    [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "$*" >&2
    echo "tests/cli/test_web.sh: 0 passed, 1 failed"
    exit 1
}
[ -x "$bin" ] || fail "no $bin: build it first"
[ -n "$browser" ] || fail "no chromium: install the Debian package chromium"

model="--config $fx/models/tiny/config.yaml"
state=$fx/golden/tiny/voice_state.safetensors
wav=$fx/golden/tiny/voice.wav
text=$(python3 -B -c 'import sys; sys.path.insert(0, "tests/tools"); import serve_client; print(serve_client.TEXT)')
"$bin" generate $model -q --temperature 0 --voice "$state" --text "$text" \
    --output-path "$tmp/ref_state.wav" || fail "generate with the voice state failed"
"$bin" generate $model -q --temperature 0 --voice "$wav" --text "$text" \
    --output-path "$tmp/ref_clone.wav" || fail "generate with voice.wav failed"

"$bin" serve $model --host 127.0.0.1 --port 0 --temperature 0 --max-text-chars 2000 \
    --voice "golden=$state" >"$tmp/serve.log" 2>&1 &
pid=$!
port=$($client port "$tmp/serve.log") || fail "the server did not start: $(cat "$tmp/serve.log")"

PTTS_WEB_TEXT=$text python3 tests/tools/web_check.py "$browser" "http://127.0.0.1:$port" \
    "$tmp/ref_state.wav" "$wav" "$tmp/ref_clone.wav" >"$tmp/out" 2>&1
grep -v '^ok ' "$tmp/out" | grep -v 'passed, .* failed' >&2
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/out")
[ -n "$line" ] || fail "web_check.py broke: $(tail -5 "$tmp/out")"
passed=${line%% passed*}
failed=$(echo "$line" | sed 's/.* \([0-9]*\) failed/\1/')
# The page's Stop closed the connection: the server saw the client go and stopped its job.
sleep 0.2
if grep -q "POST /tts 200.*(client went away)" "$tmp/serve.log"; then passed=$((passed + 1)); else
    failed=$((failed + 1))
    echo "FAIL: no stopped generation in the server log" >&2
fi
[ "$failed" -eq 0 ] || tail -5 "$tmp/serve.log" >&2
echo "tests/cli/test_web.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
