#!/bin/sh
# Runs every test binary in BUILD/tests (and tests/*.sh scripts with BUILD as $1),
# prints each one's summary and a final "N passed, N failed" over all of them.
build=${1:-build}
passed=0 failed=0 broken=""
for t in "$build"/tests/test_* tests/cli/test_*.sh; do
    [ -e "$t" ] || continue
    case $t in *.d|*.o) continue ;; esac
    if [ "${t%.sh}" != "$t" ]; then out=$(sh "$t" "$build" 2>&1); rc=$?
    else out=$("$t" 2>&1); rc=$?; fi
    line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    p=$(printf '%s' "$line" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')
    [ -n "$p" ] || p=0
    [ -n "$f" ] || f=0
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        printf '%s\n' "$out" | tail -n 40
        broken="$broken $(basename "$t")"
        [ "$f" -gt 0 ] || f=1
    else
        printf '%s\n' "$line"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
[ -z "$broken" ] || echo "failing:$broken"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
