#!/bin/sh
# `pocket-tts serve` end to end on the tiny fixture model, on 127.0.0.1 only, through the
# standard-library client tests/tools/serve_client.py:
#   - /health, /, /v1/voices;
#   - /tts and /v1/audio/speech (WAV and raw PCM) at temperature 0 give exactly the samples of
#     `pocket-tts generate` (voice state from --voice NAME=FILE, or voice.wav uploaded);
#   - 8 concurrent requests (mixed endpoints and voices) equal the serial ones;
#   - malformed requests get their 4xx, and the server goes on serving;
#   - a client that goes away frees its worker (the next request is served at once), a full
#     queue gives 503 + Retry-After, the request timeout cuts a stream, a remote voice URL
#     works with --allow-remote-voices, SIGTERM stops the server cleanly.
# Usage: sh tests/cli/test_serve.sh BUILD_DIR (run from the repository root).
bin=${1:-build}/pocket-tts
fx=${PTTS_FIXTURES:-tests/fixtures}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
case $fx in /*) ;; *) fx=$PWD/$fx ;; esac
client="python3 $PWD/tests/tools/serve_client.py"
tmp=$(mktemp -d) || exit 1
export HF_HUB_OFFLINE=1 HF_HOME="$tmp/hf"
unset HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_TOKEN
passed=0 failed=0
pids=""
server_env="" # VAR=VALUE words for the next server's environment

cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { passed=$((passed + 1)); }
ko() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
}

# check NAME COMMAND...: the command succeeds (its output goes to the failure message).
check() {
    name=$1
    shift
    if out=$("$@" 2>&1); then ok; else ko "$name: $out"; fi
}

[ -x "$bin" ] || {
    echo "no $bin: build it first" >&2
    echo "0 passed, 1 failed"
    exit 1
}

model="--config $fx/models/tiny/config.yaml"
state=$fx/golden/tiny/voice_state.safetensors
wav=$fx/golden/tiny/voice.wav
text=$(python3 -B -c 'import sys; sys.path.insert(0, "tests/tools"); import serve_client; print(serve_client.TEXT)')
long=$(python3 -c "print(' '.join('Sentence number %d is here to make the text long enough.' % i for i in range(100)))")

# start NAME ARGS...: a server on a free port of 127.0.0.1; its URL in $url, log in $tmp/NAME.log.
start() {
    log=$tmp/$1.log
    shift
    env $server_env "$bin" serve $model --host 127.0.0.1 --port 0 --temperature 0 "$@" \
        >"$log" 2>&1 &
    pid=$!
    pids="$pids $pid"
    if port=$($client port "$log"); then url=http://127.0.0.1:$port; else
        ko "the server did not start: $(cat "$log")"
        url=http://127.0.0.1:9
    fi
}

# The references: the CLI with the same voice state, and cloning from voice.wav.
"$bin" generate $model -q --temperature 0 --voice "$state" --text "$text" \
    --output-path "$tmp/ref_state.wav" || ko "generate with the voice state"
"$bin" generate $model -q --temperature 0 --voice "$wav" --text "$text" \
    --output-path "$tmp/ref_clone.wav" || ko "generate with voice.wav"

# ---- A: 2 workers, the voice state registered as "golden" (the default) ------------------
start a --workers 2 --queue 16 --max-upload-mb 1 --max-text-chars 2000 --voice "golden=$state"
a=$url a_pid=$pid
check "health" $client health "$a"
check "page" $client page "$a"
check "voices" $client voices "$a" golden

check "tts, default voice" $client tts "$a" "$tmp/t1.wav" --text "$text"
check "tts, default voice = CLI" $client same "$tmp/t1.wav" "$tmp/ref_state.wav"
check "tts, voice_url=golden" $client tts "$a" "$tmp/t2.wav" --text "$text" --voice-url golden
check "tts, voice_url=golden = CLI" $client same "$tmp/t2.wav" "$tmp/ref_state.wav"
check "tts, voice_wav upload" $client tts "$a" "$tmp/t3.wav" --text "$text" --voice-wav "$wav"
check "tts, voice_wav upload = CLI cloning" $client same "$tmp/t3.wav" "$tmp/ref_clone.wav"
check "speech wav" $client speech "$a" "$tmp/s1.wav" \
    "{\"model\": \"tts-1\", \"input\": \"$text\", \"voice\": \"golden\", \"speed\": 1.0}"
check "speech wav = CLI" $client same "$tmp/s1.wav" "$tmp/ref_state.wav"
check "speech pcm" $client speech "$a" "$tmp/s2.pcm" \
    "{\"input\": \"$text\", \"response_format\": \"pcm\"}"
check "speech pcm = CLI" $client same "$tmp/s2.pcm" "$tmp/ref_state.wav"
check "8 concurrent requests" $client concurrent "$a" 8 "$tmp/ref_state.wav" \
    "$tmp/ref_clone.wav" "$wav"

# Malformed requests: status and a word of the detail.
head -c 1060000 /dev/urandom >"$tmp/big.bin" # over 1 MiB, within the body limit
head -c 5000 /dev/urandom >"$tmp/noise.bin"
printf 'text=caf\351' >"$tmp/latin1.txt"
printf -- '--xyz\r\nContent-Disposition: form-data; name="text"\r\n\r\nHello' >"$tmp/cut.txt"
chars=$(python3 -c 'print("a" * 2001)')
mp='multipart/form-data; boundary=xyz'
e() {
    n=$1
    shift
    check "$n" $client expect "$a" "$@"
}
e "empty text" 400 "empty" multipart "text=  "
e "no text" 400 "text" multipart "voice_url=golden"
e "text too long" 400 "2000" multipart "text=$chars"
e "both voices" 400 "both" multipart "text=hi" "voice_url=golden" "voice_wav=@$wav"
e "unknown voice" 400 "unknown voice" multipart "text=hi" "voice_url=nobody"
e "a path as voice" 400 "unknown voice" multipart "text=hi" "voice_url=$wav"
e "a relative path as voice" 400 "unknown voice" multipart "text=hi" \
    "voice_url=tests/fixtures/golden/tiny/voice.wav"
e "a file URL as voice" 400 "unknown voice" multipart "text=hi" "voice_url=file:///etc/passwd"
e "hf:// with .." 400 "hf://" multipart "text=hi" "voice_url=hf://a/b/../../../etc/passwd"
e "remote voice refused" 400 "allow-remote-voices" multipart "text=hi" \
    "voice_url=http://127.0.0.1:9/voice.wav"
e "corrupt audio" 400 "audio" multipart "text=hi" "voice_wav=@$tmp/noise.bin"
e "upload too large" 413 "voice file" multipart "text=hi" "voice_wav=@$tmp/big.bin"
e "body too large" 413 "too large" big /tts "$mp" 3000000
e "JSON body too large" 413 "too large" big /v1/audio/speech application/json 3000000
e "text not UTF-8" 400 "UTF-8" raw POST /tts application/x-www-form-urlencoded "@$tmp/latin1.txt"
e "bad multipart" 400 "malformed" raw POST /tts "$mp" "@$tmp/cut.txt"
e "multipart without boundary" 400 "malformed" raw POST /tts multipart/form-data "text=hi"
e "tts: wrong content type" 415 "multipart" raw POST /tts text/plain "text=hi"
e "tts: no content type" 415 "multipart" raw POST /tts - "text=hi"
e "speech: wrong content type" 415 "json" raw POST /v1/audio/speech text/plain '{"input":"hi"}'
e "speech: not JSON" 400 "JSON" json '{"input": "hi"'
e "speech: no input" 400 "input" json '{"model": "tts-1"}'
e "speech: empty input" 400 "empty" json '{"input": " "}'
e "speech: speed" 400 "speed" json '{"input": "hi", "speed": 1.5}'
e "speech: mp3" 400 "response_format" json '{"input": "hi", "response_format": "mp3"}'
e "speech: unknown voice" 400 "unknown voice" json '{"input": "hi", "voice": "../x"}'
e "unknown route" 404 "Not Found" raw GET /nope - ""
e "wrong method" 405 "Method" raw GET /tts - ""
e "wrong method (POST /health)" 405 "Method" raw POST /health text/plain "x"
check "still right after the errors" $client tts "$a" "$tmp/t4.wav" --text "$text"
check "still right after the errors = CLI" $client same "$tmp/t4.wav" "$tmp/ref_state.wav"

# ---- B: 1 worker with a queue: hang-ups, remote voices ----------------------------------
# Online for the voice URL it is given (127.0.0.1); the hub is pointed nowhere.
server_env="HF_HUB_OFFLINE=0 HF_ENDPOINT=http://127.0.0.1:9"
start b --workers 1 --queue 4 --max-text-chars 20000 --allow-remote-voices --voice "$state"
server_env=""
b=$url b_pid=$pid
check "a client that leaves frees its worker" $client disconnect "$b" "$long" 3
check "remote voice URL" $client remote "$b" "$tmp/r1.wav" "$wav"
check "remote voice URL = CLI cloning" $client same "$tmp/r1.wav" "$tmp/ref_clone.wav"
grep -q "POST /tts 200.*(client went away)" "$tmp/b.log" || ko "no 'client went away' in the log"

# ---- C: 1 worker, no queue, a 2 s request timeout ------------------------------------------
start c --workers 1 --queue 0 --request-timeout 2 --max-text-chars 20000 --voice "$state"
c=$url c_pid=$pid
check "busy: 503 with Retry-After" $client busy "$c" "$long"
check "request timeout cuts the stream" $client timeout "$c" "$long" 6

# ---- D: predefined voices from a stand-in hub, kept in the voice cache ---------------------
$client hub "$tmp/hub.port" "alba=$state" &
hub_pid=$!
pids="$pids $hub_pid"
i=0
while [ ! -s "$tmp/hub.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
server_env="HF_HUB_OFFLINE=0 HF_HOME=$tmp/hf_d HF_ENDPOINT=http://127.0.0.1:$(cat "$tmp/hub.port")"
start d --voice-cache 2 # no --voice: the default is the language's, alba
server_env=""
d=$url d_pid=$pid
check "predefined default voice" $client tts "$d" "$tmp/d1.wav" --text "$text"
check "predefined default voice = CLI" $client same "$tmp/d1.wav" "$tmp/ref_state.wav"
kill "$hub_pid"
wait "$hub_pid" 2>/dev/null
pids=$(echo " $pids " | sed "s/ $hub_pid / /")
rm -rf "$tmp/hf_d"
check "predefined voice from the cache (hub and disk gone)" $client tts "$d" "$tmp/d2.wav" \
    --text "$text" --voice-url alba
check "predefined voice from the cache = CLI" $client same "$tmp/d2.wav" "$tmp/ref_state.wav"
check "an uncached predefined voice needs the hub" $client expect "$d" 502 "cannot load the voice 'anna'" \
    multipart "text=hi" "voice_url=anna"

# SIGTERM: a clean exit (status 0, no sanitizer report) within 5 s, also while a client
# streams (from A, a text of about 3 s of generation).
# stop NAME PID: stops the server NAME and checks that.
stop() {
    kill -TERM "$2"
    t0=$(date +%s)
    if wait "$2"; then ok; else ko "$1: serve did not exit with 0 on SIGTERM: $(tail -3 "$tmp/$1.log")"; fi
    [ $(($(date +%s) - t0)) -le 5 ] || ko "$1: serve took more than 5 s to stop"
    if grep -qE "Sanitizer|runtime error" "$tmp/$1.log"; then ko "$1: $(grep -A20 -E "Sanitizer|runtime error" "$tmp/$1.log")"; fi
    pids=$(echo " $pids " | sed "s/ $2 / /")
}
medium=$(python3 -c "print(' '.join('Sentence number %d is here to make the text long.' % i for i in range(35)))")
$client tts "$a" "$tmp/t5.wav" --text "$medium" >/dev/null 2>&1 &
cpid=$!
sleep 0.5
stop a "$a_pid"
wait "$cpid" 2>/dev/null
stop b "$b_pid"
stop c "$c_pid"
stop d "$d_pid"

echo "tests/cli/test_serve.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
