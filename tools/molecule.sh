#!/usr/bin/env bash
# Runs `molecule test` for every scenario under extensions/molecule/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/extensions"
scenarios=()
for file in molecule/*/molecule.yml; do
    [ -e "$file" ] || continue
    scenarios+=("$(basename "$(dirname "$file")")")
done
if [ ${#scenarios[@]} -eq 0 ]; then
    echo "molecule: no scenarios yet"
    exit 0
fi
failed=()
for scenario in "${scenarios[@]}"; do
    molecule test -s "$scenario" || failed+=("$scenario")
done
echo "molecule: ${#scenarios[@]} scenarios, ${#failed[@]} failed ${failed[*]:-}"
[ ${#failed[@]} -eq 0 ]
