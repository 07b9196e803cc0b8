#!/bin/sh
# Released-model loading through a stand-in Hugging Face hub on 127.0.0.1 (SPEC 1.5): the
# gated weights with HF_TOKEN (cloning allowed); without a token, the open weights, with
# predefined voices and voice files working and cloning from audio refused in one clear line;
# then the same files from the cache in offline mode.
# Usage: sh tests/cli/test_hub.sh BUILD_DIR (run from the repository root).
bin=${1:-build}/pocket-tts
fx=${PTTS_FIXTURES:-tests/fixtures}
tmp=$(mktemp -d) || exit 1
hub_pid=""
cleanup() {
    [ -z "$hub_pid" ] || kill "$hub_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
ko() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
}

# The tiny model as the two released repositories would hold it.
mkdir -p "$tmp/open/languages/english/embeddings" "$tmp/gated"
cp "$fx/models/tiny/model.safetensors" "$fx/models/tiny/tokenizer.model" "$tmp/open/"
cp "$fx/models/tiny/model.safetensors" "$tmp/gated/"
cp "$fx/golden/tiny/voice_state.safetensors" "$tmp/open/languages/english/embeddings/alba.safetensors"
sed -e 's|^weights_path: .*|weights_path: hf://kyutai/pocket-tts/model.safetensors\
weights_path_without_voice_cloning: hf://kyutai/pocket-tts-without-voice-cloning/model.safetensors|' \
    -e 's|tokenizer_path: .*|tokenizer_path: hf://kyutai/pocket-tts-without-voice-cloning/tokenizer.model|' \
    "$fx/models/tiny/config.yaml" >"$tmp/config.yaml"

python3 tests/tools/fake_hub.py "+kyutai/pocket-tts=$tmp/gated" \
    "kyutai/pocket-tts-without-voice-cloning@e041936c75475d350b405bc870bcf7c22da4e9e6=$tmp/open" \
    >"$tmp/ports" &
hub_pid=$!
i=0
while [ ! -s "$tmp/ports" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cut -d' ' -f1 "$tmp/ports")
export HF_HOME="$tmp/hf" HF_ENDPOINT="http://127.0.0.1:$port" HF_HUB_OFFLINE=0
unset HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_TOKEN_PATH

gen() { # gen VOICE OUT [-q]: generate with the hub config, stderr in $tmp/err
    "$bin" generate $3 --config "$tmp/config.yaml" --voice "$1" --text "Hello." --temperature 0 \
        --output-path "$2" 2>"$tmp/err"
}

# No token: the open weights; a voice file and a predefined voice (downloaded) work.
if gen "$fx/golden/tiny/voice_state.safetensors" "$tmp/a.wav" && [ -s "$tmp/a.wav" ] &&
    grep -q "without voice cloning" "$tmp/err"; then ok; else ko "open fallback: $(cat "$tmp/err")"; fi
if gen alba "$tmp/b.wav" && cmp -s "$tmp/a.wav" "$tmp/b.wav"; then ok; else
    ko "predefined voice from the hub: $(cat "$tmp/err")"
fi
# Cloning from audio is refused with one line saying what to do.
if ! gen "$fx/golden/tiny/voice.wav" "$tmp/c.wav" -q && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
    grep -q "voice cloning.*HF_TOKEN" "$tmp/err"; then ok; else
    ko "cloning refused: $(cat "$tmp/err")"
fi

# With the token: the gated weights, and cloning works.
if HF_TOKEN=hf_fake_token gen "$fx/golden/tiny/voice.wav" "$tmp/d.wav" && [ -s "$tmp/d.wav" ] &&
    ! grep -q "without voice cloning" "$tmp/err"; then ok; else
    ko "gated weights with a token: $(cat "$tmp/err")"
fi
[ -L "$tmp/hf/hub/models--kyutai--pocket-tts/snapshots/$(cat "$tmp/hf/hub/models--kyutai--pocket-tts/refs/main" 2>/dev/null)/model.safetensors" ] &&
    ok || ko "gated weights not in the hub cache layout"

# Offline, with the hub gone: everything comes from the cache.
kill "$hub_pid"
wait "$hub_pid" 2>/dev/null
hub_pid=""
if HF_HUB_OFFLINE=1 HF_TOKEN=hf_fake_token gen alba "$tmp/e.wav" && cmp -s "$tmp/a.wav" "$tmp/e.wav"; then
    ok
else ko "offline from the cache: $(cat "$tmp/err")"; fi
# Offline and not cached: one line naming the missing file.
if ! HF_HUB_OFFLINE=1 gen anna "$tmp/f.wav" -q && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
    grep -q "anna.safetensors.*offline" "$tmp/err"; then ok; else
    ko "offline miss: $(cat "$tmp/err")"
fi

echo "tests/cli/test_hub.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
