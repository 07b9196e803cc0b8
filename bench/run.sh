#!/bin/sh
# Benchmarks a model of the released English size with random weights (bench/bench.c): makes
# it once into bench/out/english with `pocket-tts debug random-model` (and the tokenizer
# that reproduces the released English vocabulary), then runs the bench on it. Options after
# BUILD_DIR go to the bench (--quick, --threads 1,2, --weights f32,int8, --voice AUDIO).
# Usage, from the repository root (or `make bench`): sh bench/run.sh [BUILD_DIR] [OPTIONS]
set -e
build=build
case ${1:-} in -* | "") ;; *) build=$1 && shift ;; esac
model=bench/out/english
if [ ! -s "$model/model.safetensors" ] || [ ! -s "$model/config.yaml" ]; then
    "$build/pocket-tts" debug random-model --language english \
        --tokenizer tests/fixtures/tokenizers/pocket_en.model --out "$model"
fi
make -s BUILD="$build" "$build/bench_tts"
exec "$build/bench_tts" --model "$model" "$@"
