#!/usr/bin/env bash
# Runs every test layer even when one fails, then prints one summary line per
# layer and exits non-zero when any layer failed.
set -uo pipefail
layers=("$@")
declare -A status seconds
failed=0
for layer in "${layers[@]}"; do
    echo
    echo "==================== $layer ===================="
    start=$(date +%s)
    if make --no-print-directory "$layer"; then status[$layer]=passed; else status[$layer]=FAILED; failed=1; fi
    seconds[$layer]=$(( $(date +%s) - start ))
done
echo
echo "==================== summary ===================="
for layer in "${layers[@]}"; do
    printf '%-12s %-7s %5ss\n' "$layer" "${status[$layer]}" "${seconds[$layer]}"
done
exit $failed
