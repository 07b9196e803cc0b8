#!/bin/sh
# `pocket-tts debug random-model`: a random English model of the released size has the
# released checkpoint's tensor list, a local config and tokenizer, and speaks through
# `pocket-tts generate`; usage errors and a mismatched tokenizer are refused.
# Usage: sh tests/cli/test_random_model.sh BUILD_DIR (run from the repository root).
bin=${1:-build}/pocket-tts
fx=${PTTS_FIXTURES:-tests/fixtures}
tok=$fx/tokenizers/pocket_en.model
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

ok() { passed=$((passed + 1)); }
ko() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
}

# run ARGS...: pocket-tts with stdout in $tmp/out, stderr in $tmp/err, status in $rc.
run() {
    "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# expect_error NAME STATUS TEXT: failed with STATUS and one stderr line containing TEXT.
expect_error() {
    if [ "$rc" -eq "$2" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q '^pocket-tts: ' "$tmp/err" &&
        grep -qF -- "$3" "$tmp/err"; then ok; else
        ko "$1: status $rc (want $2), stderr: $(cat "$tmp/err")"
    fi
}

[ -x "$bin" ] || {
    echo "no $bin: build it first" >&2
    echo "0 passed, 1 failed"
    exit 1
}

# The released English size (110 M parameters, 440 MB).
en=$tmp/english
run debug random-model --language english --tokenizer "$tok" --out "$en" --seed 5
if [ "$rc" -eq 0 ] && [ -s "$en/model.safetensors" ] && [ -s "$en/config.yaml" ]; then ok; else
    ko "english: status $rc, stderr: $(cat "$tmp/err")"
fi
if cmp -s "$tok" "$en/tokenizer.model"; then ok; else ko "tokenizer.model is not a copy of $tok"; fi

# The tensor list, in the reference files' format, from the safetensors header.
python3 - "$en/model.safetensors" >"$tmp/list" <<'EOF'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
total = 0
for name, t in header.items():
    if name == "__metadata__":
        continue
    n = 1
    for d in t["shape"]:
        n *= d
    total += n
    print("%s\t[%s]\t%d" % (name, ", ".join(map(str, t["shape"])), n))
print("# total parameters: %d" % total)
EOF
tail -n +2 "$fx/reference/english.txt" >"$tmp/want"
if cmp -s "$tmp/want" "$tmp/list"; then ok; else
    ko "the tensor list differs from $fx/reference/english.txt"
    diff "$tmp/want" "$tmp/list" | head -n 10 >&2
fi

# The config: local files, nothing else changed (compared as data, with PyYAML if present).
if ! python3 -c 'import yaml' 2>/dev/null; then
    grep -qx 'weights_path: model.safetensors' "$en/config.yaml" &&
        grep -qx '    tokenizer_path: tokenizer.model' "$en/config.yaml"
else python3 - "$en/config.yaml" configs/english.yaml <<'EOF' >"$tmp/cfg" 2>&1
import sys, yaml
got, src = (yaml.safe_load(open(p)) for p in sys.argv[1:3])
assert got.pop("weights_path") == "model.safetensors", "weights_path"
assert got.pop("weights_path_without_voice_cloning") is None, "weights_path_without_voice_cloning"
assert got["flow_lm"]["lookup_table"].pop("tokenizer_path") == "tokenizer.model", "tokenizer_path"
for k in ("weights_path", "weights_path_without_voice_cloning"):
    src.pop(k)
src["flow_lm"]["lookup_table"].pop("tokenizer_path")
assert got == src, "other values changed"
EOF
fi
if [ $? -eq 0 ]; then ok; else ko "config.yaml: $(cat "$tmp/cfg")"; fi

# It speaks. For the sanitizer build's sake, the voice is the test voice's first 0.5 s and
# an immediate EOS keeps it to 5 frames (the guess for a short text); the C test checks the
# frame count without EOS.
python3 - "$fx/golden/tiny/voice.wav" "$tmp/voice.wav" <<'EOF'
import sys, wave
with wave.open(sys.argv[1]) as r, wave.open(sys.argv[2], "wb") as w:
    w.setparams(r.getparams())
    w.writeframes(r.readframes(r.getframerate() // 2))
EOF
run generate --config "$en/config.yaml" --voice "$tmp/voice.wav" --text "Hello." \
    --temperature 0 --eos-threshold -1000 --output-path "$tmp/hello.wav" -q
size=$(wc -c <"$tmp/hello.wav" 2>/dev/null || echo 0)
if [ "$rc" -eq 0 ] && [ "$size" -eq $((44 + 2 * (5 * 1920 + 4800))) ]; then ok; else
    ko "generate: status $rc, $size bytes, stderr: $(cat "$tmp/err")"
fi

# Refusals.
run debug random-model --language english --tokenizer "$fx/tokenizers/bpe1000.model" --out "$tmp/x"
expect_error "vocabulary size" 1 "n_bins is 4000"
[ ! -e "$tmp/x" ] && ok || ko "a refused model left $tmp/x"
run debug random-model --language english --out "$tmp/x"
expect_error "remote tokenizer" 1 "not a local file"
run debug random-model --language english --config "$fx/models/tiny/config.yaml" --out "$tmp/x"
expect_error "both sources" 2 "one of --language and --config"
run debug random-model --language english --tokenizer "$tok"
expect_error "no --out" 2 "--out"
run debug random-model --language english --tokenizer "$tok" --out "$tmp/x" --dtype f64
expect_error "dtype" 2 "f64"
run debug random-model --language klingon --tokenizer "$tok" --out "$tmp/x"
expect_error "language" 1 "klingon"
run debug frobnicate
expect_error "subcommand" 2 "frobnicate"
run debug random-model --help
if [ "$rc" -eq 0 ] && grep -q -- "--dtype" "$tmp/out"; then ok; else ko "--help: status $rc"; fi

echo "tests/cli/test_random_model.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
