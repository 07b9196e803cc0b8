#!/bin/sh
# `pocket-tts generate`, `export-voice` and `voices` end to end on the tiny fixture models:
# every temperature-0 case of tests/fixtures/golden/<model>/manifest.json reproduced through
# the CLI (to a file, through stdout, with the text on stdin, with the voice from audio), voices
# from other audio formats, and one clear error line for each kind of bad input.
# Usage: sh tests/cli/test_generate.sh BUILD_DIR (run from the repository root).
#
# Bounds (measured values in brackets):
#   golden cases with voice_state.safetensors: max 1 PCM step  [1]
#   the same through the codec encoder (--voice voice.wav): max 2 steps, relative RMS 1e-4
#     [1 step, 6.3e-6 tiny / 4.0e-6 tiny-v1: the pcm16 rounding itself]
#   exported voice vs the golden voice state: relative RMS 1e-5 of the KV caches [5.6e-7]
#   voice caches from other formats vs from the 24 kHz mono WAV (relative RMS): FLAC and
#     24 kHz stereo (L = x + k, R = x - k) 1e-6 [0], 44.1 kHz stereo (sox) 1e-2 [6.8e-4 tiny,
#     3.1e-3 tiny-v1], MP3 (libsndfile/LAME) 3e-2 [2.9e-3, 3.7e-3]; another voice is ~1.
bin=${1:-build}/pocket-tts
fx=${PTTS_FIXTURES:-tests/fixtures}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
case $fx in /*) ;; *) fx=$PWD/$fx ;; esac
tool="python3 $PWD/tests/tools/wavtool.py"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
export HF_HUB_OFFLINE=1 HF_HOME="$tmp/hf"
unset HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_TOKEN
passed=0 failed=0

ok() { passed=$((passed + 1)); }
ko() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
}

# run ARGS...: pocket-tts with stdin from $tmp/in; stdout in $tmp/out, stderr in $tmp/err,
# status in $rc.
run() {
    "$bin" "$@" <"$tmp/in" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
: >"$tmp/in"

# check NAME COMMAND...: the command (a wavtool check) succeeds; its line is shown on failure.
check() {
    name=$1
    shift
    if res=$("$@" 2>&1); then ok; else ko "$name: $res"; fi
}

# expect_ok NAME: the last run succeeded, printing nothing (it ran with -q).
expect_ok() {
    if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ]; then ok; else
        ko "$1: status $rc, stderr: $(cat "$tmp/err")"
    fi
}

# expect_error NAME STATUS TEXT: the last run failed with STATUS, printed nothing on stdout
# and one line on stderr, "pocket-tts: ..." containing TEXT.
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

# The temperature-0 cases of a manifest, one a line: id|text|steps|eos|frames_after_eos|
# max_tokens (an empty frames_after_eos: automatic).
cases() {
    python3 -c '
import json, sys
for c in json.load(open(sys.argv[1]))["cases"]:
    if c["temp"] == 0:
        fae = "" if c["frames_after_eos"] is None else str(c["frames_after_eos"])
        print("|".join([c["id"], c["text"], str(c["steps"]), repr(c["eos"]), fae,
                         str(c["max_tokens"])]))' "$1"
}

for m in tiny tiny-v1; do
    g=$fx/golden/$m
    cfg="--config $fx/models/$m/config.yaml"
    state=$g/voice_state.safetensors
    short=$g/gen_temp0_short.safetensors
    short_text="Hello world, this is a test."

    # Every temperature-0 case, to a file.
    cases "$g/manifest.json" >"$tmp/cases"
    [ -s "$tmp/cases" ] || ko "$m: no temperature-0 case in the manifest"
    while IFS='|' read -r id text steps eos fae maxtok; do
        set -- --frames-after-eos "$fae"
        [ -n "$fae" ] || set --
        run generate -q $cfg --voice "$state" --text "$text" --temperature 0 \
            --lsd-decode-steps "$steps" --eos-threshold "$eos" --max-tokens "$maxtok" "$@" \
            --output-path "$tmp/$id.wav"
        expect_ok "$m/$id: generate"
        check "$m/$id" $tool golden "$tmp/$id.wav" "$g/gen_$id.safetensors" exact
    done <"$tmp/cases"

    # Through a pipe on stdout: streaming header, same samples.
    "$bin" generate -q $cfg --voice "$state" --text "$short_text" --temperature 0 \
        --output-path - </dev/null 2>"$tmp/err" | cat >"$tmp/pipe.wav"
    [ ! -s "$tmp/err" ] || ko "$m: stdout pipe: $(cat "$tmp/err")"
    check "$m: stdout pipe" $tool golden "$tmp/pipe.wav" "$short" stream
    # stdout redirected to a file can seek: exact sizes.
    run generate -q $cfg --voice "$state" --text "$short_text" --temperature 0 --output-path -
    expect_ok "$m: stdout file"
    check "$m: stdout file" $tool golden "$tmp/out" "$short" exact

    # The text from stdin, with --text - and with no --text while stdin is a pipe.
    printf '%s\n' "$short_text" | "$bin" generate -q $cfg --voice "$state" --temperature 0 \
        --text - --output-path "$tmp/stdin1.wav" 2>"$tmp/err"
    [ ! -s "$tmp/err" ] || ko "$m: --text -: $(cat "$tmp/err")"
    check "$m: --text -" $tool golden "$tmp/stdin1.wav" "$short" exact
    printf '%s' "$short_text" | "$bin" generate -q $cfg --voice "$state" --temperature 0 \
        --output-path "$tmp/stdin2.wav" 2>"$tmp/err"
    [ ! -s "$tmp/err" ] || ko "$m: stdin pipe: $(cat "$tmp/err")"
    check "$m: stdin pipe" $tool golden "$tmp/stdin2.wav" "$short" exact

    # The voice from audio, through the codec encoder.
    run generate -q $cfg --voice "$g/voice.wav" --text "$short_text" --temperature 0 \
        --output-path "$tmp/from_wav.wav"
    expect_ok "$m: --voice voice.wav"
    check "$m: --voice voice.wav" $tool golden "$tmp/from_wav.wav" "$short" exact \
        --max-step 2 --max-rel-rms 1e-4

    # export-voice, then the exported file speaks as the audio did.
    run export-voice -q $cfg "$g/voice.wav" "$tmp/exported.safetensors"
    expect_ok "$m: export-voice"
    check "$m: exported vs golden state" $tool voice-rms "$tmp/exported.safetensors" "$state" \
        --max 1e-5
    run generate -q $cfg --voice "$tmp/exported.safetensors" --text "$short_text" \
        --temperature 0 --output-path "$tmp/from_exported.wav"
    expect_ok "$m: --voice exported"
    check "$m: exported voice = voice.wav" $tool same "$tmp/from_exported.wav" "$tmp/from_wav.wav"

    # The same voice in other formats and layouts.
    $tool encode "$g/voice.wav" "$tmp/voice.flac" flac >/dev/null || ko "$m: making FLAC"
    $tool encode "$g/voice.wav" "$tmp/voice.mp3" mp3 >/dev/null || ko "$m: making MP3"
    $tool stereo "$g/voice.wav" "$tmp/voice_stereo.wav" || ko "$m: making stereo"
    sox -D "$tmp/voice_stereo.wav" -r 44100 "$tmp/voice_44k.wav" || ko "$m: sox resampling"
    for v in voice.flac:1e-6 voice_stereo.wav:1e-6 voice_44k.wav:1e-2 voice.mp3:3e-2; do
        f=${v%:*}
        run export-voice -q $cfg "$tmp/$f" "$tmp/$f.safetensors"
        expect_ok "$m: export-voice $f"
        check "$m: voice from $f" $tool voice-rms "$tmp/$f.safetensors" \
            "$tmp/exported.safetensors" --max "${v#*:}"
    done
done

cfg="--config $fx/models/tiny/config.yaml"
state=$fx/golden/tiny/voice_state.safetensors
short=$fx/golden/tiny/gen_temp0_short.safetensors
gen="generate -q $cfg --temperature 0"

# The default output path, and what a run without -q reports.
mkdir "$tmp/cwd"
(cd "$tmp/cwd" && "$bin" generate $cfg --voice "$state" --temperature 0 \
    --text "Hello world, this is a test." </dev/null >"$tmp/out" 2>"$tmp/err")
rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] && grep -q 'real-time factor' "$tmp/err" &&
    grep -q 'first audio after' "$tmp/err" && grep -q 'tts_output.wav' "$tmp/err"; then ok; else
    ko "verbose run: status $rc, stderr: $(cat "$tmp/err")"
fi
check "default output path" $tool golden "$tmp/cwd/tts_output.wav" "$short" exact

# No --text and stdin not a pipe: the upstream's default text, which is the multichunk case's.
run $gen --voice "$state" --max-tokens 12 --output-path "$tmp/default_text.wav"
expect_ok "default text"
check "default text" $tool golden "$tmp/default_text.wav" \
    "$fx/golden/tiny/gen_temp0_multichunk.safetensors" exact

# Help and the voices listing.
for c in generate export-voice voices; do
    run "$c" --help
    if [ "$rc" -eq 0 ] && head -n 1 "$tmp/out" | grep -q "^usage: pocket-tts $c"; then ok; else
        ko "$c --help: status $rc"
    fi
done
run voices
if [ "$rc" -eq 0 ] && [ "$(head -n 1 "$tmp/out")" = "alba (default)" ] &&
    [ "$(wc -l <"$tmp/out")" -eq 21 ] && grep -qx 'vera' "$tmp/out"; then ok; else
    ko "voices: status $rc, $(cat "$tmp/out")"
fi
run voices --language italian_24l
if [ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = "giovanni (default)" ]; then ok; else
    ko "voices --language italian_24l: $(cat "$tmp/out")"
fi
run voices --language klingon
expect_error "voices: unknown language" 1 "klingon"

# Bad inputs: one line naming the problem, a non-zero status.
printf 'RIFF\044\0\0\0WAVEfmt garbage that is not audio at all' >"$tmp/bad.wav"
head -c 20 "$fx/golden/tiny/voice.wav" >"$tmp/cut.wav"
printf 'not a safetensors file' >"$tmp/bad.safetensors"
head -c 3000 "$state" >"$tmp/cut.safetensors"
printf 'weights_path: [unclosed\n' >"$tmp/bad.yaml"
sed 's/^weights_path: .*/weights_path: missing.safetensors/' "$fx/models/tiny/config.yaml" \
    >"$tmp/noweights.yaml"
out="--output-path $tmp/o.wav"

run $gen --voice "$tmp/nope.wav" --text hi $out
expect_error "missing voice audio" 1 "nope.wav"
run $gen --voice "$tmp/nope.safetensors" --text hi $out
expect_error "missing voice file" 1 "nope.safetensors"
run $gen --voice "$tmp/bad.wav" --text hi $out
expect_error "corrupt audio" 1 "bad.wav"
run $gen --voice "$tmp/cut.wav" --text hi $out
expect_error "truncated audio header" 1 "cut.wav"
run $gen --voice "$tmp/bad.safetensors" --text hi $out
expect_error "corrupt voice file" 1 "bad.safetensors"
run $gen --voice "$tmp/cut.safetensors" --text hi $out
expect_error "truncated voice file" 1 "cut.safetensors"
run $gen --voice nobody --text hi $out
expect_error "unknown voice" 1 "nobody"
run generate -q --config "$tmp/nope.yaml" --voice "$state" --text hi $out
expect_error "missing config" 1 "nope.yaml"
run generate -q --config "$tmp/bad.yaml" --voice "$state" --text hi $out
expect_error "bad config" 1 "bad.yaml"
run generate -q --config "$tmp/noweights.yaml" --voice "$state" --text hi $out
expect_error "config without its weights" 1 "missing.safetensors"
run generate -q --language klingon --voice "$state" --text hi $out
expect_error "unknown language" 1 "klingon"
run $gen --voice "$state" --text "" $out
expect_error "empty text" 1 "empty"
run $gen --voice "$state" --text "  
  " $out
expect_error "blank text" 1 "empty"
run $gen --voice "$state" --text - $out
expect_error "empty stdin" 1 "empty"
[ ! -e "$tmp/o.wav" ] || ko "a failed run left its new output file"

# An unwritable output fails first, before the (here also missing) config is read.
run generate -q --config "$tmp/nope.yaml" --text hi --output-path "$tmp/no/such/dir/o.wav"
expect_error "unwritable output" 1 "no/such/dir/o.wav"
run $gen --voice "$state" --text hi --output-path "$tmp"
expect_error "output is a folder" 1 "$tmp"
# A run that fails before any audio leaves an existing file as it was.
echo precious >"$tmp/keep.wav"
run $gen --voice nobody --text hi --output-path "$tmp/keep.wav"
expect_error "keep: unknown voice" 1 "nobody"
ideographic_space=$(printf '\343\200\200') # passes the CLI's check, refused by the front-end
run $gen --voice "$state" --text "$ideographic_space" --output-path "$tmp/keep.wav"
expect_error "keep: text refused by the front-end" 1 "empty"
[ "$(cat "$tmp/keep.wav")" = precious ] || ko "a failed run damaged an existing output file"
if [ -w /dev/full ]; then
    run $gen --voice "$state" --text hi --output-path /dev/full
    expect_error "full disk" 1 "/dev/full"
fi

# Bad option values: usage errors, status 2.
for args in "--temperature abc" "--temperature -1" "--lsd-decode-steps 0" \
    "--lsd-decode-steps 1.5" "--max-tokens 0" "--frames-after-eos -1" "--noise-clamp 0" \
    "--noise-clamp x" "--eos-threshold nan" "--seed -1" "--threads x" "--device cuda" \
    "--frobnicate" "--quantize=1" "--language english" "positional"; do
    run $gen --voice "$state" --text hi $out $args
    key=${args%% *}
    expect_error "generate $args" 2 "${key%%=*}"
done
run $gen --voice "$state" $out --text
expect_error "generate --text without a value" 2 "--text"
run export-voice -q $cfg "$fx/golden/tiny/voice.wav"
expect_error "export-voice with one argument" 2 "export-voice"
run export-voice -q $cfg a b c
expect_error "export-voice with three arguments" 2 "'c'"
run export-voice -q $cfg "$tmp/nope.wav" "$tmp/x.safetensors"
expect_error "export-voice: missing audio" 1 "nope.wav"
run export-voice -q $cfg "$tmp/bad.wav" "$tmp/x.safetensors"
expect_error "export-voice: corrupt audio" 1 "bad.wav"
run export-voice -q $cfg "$fx/golden/tiny/voice.wav" "$tmp/no/such/dir/x.safetensors"
expect_error "export-voice: unwritable output" 1 "no/such/dir/x.safetensors"

echo "tests/cli/test_generate.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
