#!/bin/sh
# The model's fixture tests again on every kernel path this CPU runs (PTTS_KERNELS), so that the
# generic, AVX2 and AVX-512 code all reproduce the upstream's outputs.
# Usage: sh tests/cli/test_kernel_paths.sh BUILD_DIR (run from the repository root).
build=${1:-build}
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
paths=generic
case " $flags " in *" avx2 "*) case " $flags " in *" fma "*) paths="$paths avx2" ;; esac ;; esac
case " $flags " in *" avx512f "*) case " $flags " in *" avx512_vnni "*) paths="$paths avx512" ;; esac ;; esac
case $(uname -m) in aarch64) paths="$paths neon" ;; esac
passed=0 failed=0
for path in $paths; do
    for t in test_flowlm test_mimi test_generate test_voice test_quantize; do
        if out=$(PTTS_KERNELS=$path "$build/tests/$t" 2>&1); then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            printf '%s\n' "$out" | tail -n 5 >&2
            echo "FAIL: $t with PTTS_KERNELS=$path" >&2
        fi
    done
done
echo "tests/cli/test_kernel_paths.sh ($paths): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
