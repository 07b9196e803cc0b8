#!/bin/sh
# `pocket-tts tokenize` against known ids and tests/fixtures/text/cases.json.
# Usage: sh tests/cli/test_tokenize.sh BUILD_DIR (run from the repository root).
bin=${1:-build}/pocket-tts
fx=${PTTS_FIXTURES:-tests/fixtures}
tok=$fx/tokenizers/pocket_en.model
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# Never touch the network or the user's cache.
export HF_HUB_OFFLINE=1 HF_HOME="$tmp/hf"
unset HF_HUB_CACHE HUGGINGFACE_HUB_CACHE
passed=0 failed=0
tab=$(printf '\t')

ok() { passed=$((passed + 1)); }
ko() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
}

# run ARGS...: stdout in $tmp/out, stderr in $tmp/err, status in $rc (stdin from $tmp/in).
run() {
    "$bin" tokenize "$@" <"$tmp/in" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
: >"$tmp/in"

# expect NAME: the previous run succeeded and printed exactly $tmp/want.
expect() {
    if [ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$tmp/want"; then ok; else
        ko "$1: status $rc, stderr: $(cat "$tmp/err")"
        diff "$tmp/want" "$tmp/out" >&2
    fi
}

# expect_error NAME STATUS TEXT: failed with STATUS, nothing on stdout, and stderr is one
# line starting with "pocket-tts: " that contains TEXT.
expect_error() {
    if [ "$rc" -eq "$2" ] && [ ! -s "$tmp/out" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
        grep -q '^pocket-tts: ' "$tmp/err" && grep -qF -- "$3" "$tmp/err"; then ok; else
        ko "$1: status $rc (want $2), stderr: $(cat "$tmp/err")"
    fi
}

[ -x "$bin" ] || {
    echo "no $bin: build it first" >&2
    echo "0 passed, 1 failed"
    exit 1
}

# Known encodings of the released English tokenizer (tests/fixtures/README.md).
sentence='Hello, this is a test of the Pocket TTS system.'
echo '2994 262 285 277 267 1115 272 265 1456 603 597 602 854 640 260 848 263' >"$tmp/want"
run --tokenizer "$tok" --text "$sentence"
expect "known ids"
run --tokenizer="$tok" --text="$sentence"
expect "--opt=value"
printf '%s\n' "$sentence" >"$tmp/in"
run --tokenizer "$tok"
expect "stdin"
run --tokenizer "$tok" --text -
expect "--text -"
printf '%s' "$sentence" >"$tmp/in"
run --tokenizer "$tok"
expect "stdin without newline"
: >"$tmp/in"

# --chunks: split_max20_pad0_semi0 and split_max8_pad0_semi0 of cases.json.
cat >"$tmp/want" <<EOF
2994 578 263 268 686 862 327 805 1537 264 261 1456 603 597 602 854 640 263${tab}Hello world. I am Kyutai's Pocket TTS.
268 264 283 1420 260 747 266 791 288 860 444 759 1917 261 263${tab}I'm fast enough to run on small CPUs.
268 818 270 264 335 282 308 263${tab}I hope you'll like me.
EOF
run --tokenizer "$tok" --chunks --max-tokens 20 \
    --text "Hello world. I am Kyutai's Pocket TTS. I'm fast enough to run on small CPUs. I hope you'll like me."
expect "chunks, 20 tokens"

cat >"$tmp/want" <<EOF
2239 1472 599 682${tab}First sentence!
1136 1331 307 322 292${tab}Second one?
1878 625 307 799 496 1438 465 263${tab}Third... Fourth.
496 1660 465 682 682 682${tab}Fifth!!!
446 2287 465 292 682 1241 465 263${tab}Sixth?! seventh.
EOF
echo 'First sentence! Second one? Third... Fourth. Fifth!!! Sixth?! seventh.' >"$tmp/in"
run --tokenizer "$tok" --chunks --max-tokens 8
expect "chunks from stdin, 8 tokens"
: >"$tmp/in"

# A config brings its text settings: tiny-v1 removes semicolons and pads (padding is
# stripped again when chunking), tiny does neither.
printf '1136 1005 262 571 2101 261 262 375 263\tSemi, colons, here.\n' >"$tmp/want"
run --config "$fx/models/tiny-v1/config.yaml" --chunks --text 'semi; colons; here'
expect "config tiny-v1"
printf '1136 1005 1230 571 2101 261 1230 375 263\tSemi; colons; here.\n' >"$tmp/want"
run --config "$fx/models/tiny/config.yaml" --chunks --text 'semi; colons; here'
expect "config tiny"

run --help
if [ "$rc" -eq 0 ] && grep -q '^usage: pocket-tts tokenize' "$tmp/out"; then ok; else ko "--help"; fi

# Errors: one line on stderr, status 1.
run --tokenizer "$tok" --text ''
expect_error "empty text" 1 "pocket-tts: Text prompt cannot be empty"
run --tokenizer "$tok" --chunks --text '  '
expect_error "blank text, chunks" 1 "pocket-tts: Text prompt cannot be empty"
printf '\n\t\n' >"$tmp/in"
run --tokenizer "$tok" --chunks
expect_error "blank stdin" 1 "pocket-tts: Text prompt cannot be empty"
: >"$tmp/in"
run --tokenizer "$tmp/missing.model" --text hi
expect_error "missing tokenizer" 1 "missing.model"
run --config "$tmp/missing.yaml" --text hi
expect_error "missing config" 1 "missing.yaml"
run --language klingon --text hi
expect_error "unknown language" 1 "unknown language 'klingon' (available: english, english_2026-01,"
run --language french --text hi
expect_error "french" 1 "french_24l"
run --language english --text hi
expect_error "remote tokenizer, offline and not cached" 1 "offline"
printf 'weights_path: x\n' >"$tmp/bad.yaml"
run --config "$tmp/bad.yaml" --text hi
expect_error "bad config" 1 "flow_lm: missing"

# Usage errors: status 2.
run --text hi
expect_error "no tokenizer" 2 "give one of --tokenizer, --config or --language"
run --tokenizer "$tok" --language english --text hi
expect_error "two tokenizers" 2 "give one of"
run --tokenizer "$tok" --bogus
expect_error "unknown option" 2 "unknown argument '--bogus'"
run --tokenizer "$tok" --text hi --max-tokens 5
expect_error "--max-tokens without --chunks" 2 "--max-tokens goes with --chunks"
run --tokenizer "$tok" --chunks --max-tokens 0 --text hi
expect_error "--max-tokens 0" 2 "--max-tokens"
run --tokenizer
expect_error "missing value" 2 "--tokenizer needs a value"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
