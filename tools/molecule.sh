#!/usr/bin/env bash
# Runs `molecule test` for every scenario under extensions/molecule/ against a lab fleet on loopback.
#
# The fleet (a few clients, 3 servers of one HA cluster, 60 simulated s per real s) runs in the background
# for all scenarios and is stopped on exit, whatever happens. Scenarios find it through the exported
# MOLECULE_LAB_INVENTORY and the wixl-built test packages through MOLECULE_LAB_PACKAGES (JSON).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Molecule 26 uses extensions/molecule/ only in collection mode: galaxy.yml in the working directory.
cd "$root"
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$root/.tmp/collections}"
export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$root/ansible.cfg}"

scenarios=()
for file in extensions/molecule/*/molecule.yml; do
    [ -e "$file" ] || continue
    scenarios+=("$(basename "$(dirname "$file")")")
done
if [ ${#scenarios[@]} -eq 0 ]; then
    echo "molecule: no scenarios yet"
    exit 0
fi

lab_dir="$root/.tmp/molecule-lab"
mkdir -p "$lab_dir"
# Inventory and lab.json are per run; the state dir keeps the lab CA and certificates between runs.
rm -f "$lab_dir/hosts.yml" "$lab_dir/serve.out" "$lab_dir/serve.log" "$lab_dir/state/lab.json"

# Test fleets of the pytest layers take random 127.20-250.x.1 ranges; 127.19.x stays clear of them
# and of a `make demo` fleet on the default 127.0.1.1. The backend offers 9.3.0, so that the rollout by
# auto-updater has a newer version (9.3.1) to roll out.
python -m lab serve --clients "${MOLECULE_LAB_CLIENTS:-3}" --servers "${MOLECULE_LAB_SERVERS:-3}" \
    --time-scale 60 --seed 0 --base-address 127.19.1.1 --state-dir "$lab_dir/state" \
    --backend-channel stable=9.3.0 --inventory "$lab_dir/hosts.yml" \
    >"$lab_dir/serve.out" 2>"$lab_dir/serve.log" &
lab_pid=$!

stop_lab() {
    if kill -0 "$lab_pid" 2>/dev/null; then
        kill -TERM "$lab_pid" 2>/dev/null || true
        # It exits within a second on SIGTERM; do not let a stuck fleet hold up `make`.
        for _ in $(seq 1 50); do
            kill -0 "$lab_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$lab_pid" 2>/dev/null || true
    fi
    wait "$lab_pid" 2>/dev/null || true
}
trap stop_lab EXIT
trap 'exit 130' INT TERM

ready=""
for _ in $(seq 1 300); do # 30 s at most
    if grep -q '^lab ready' "$lab_dir/serve.out" 2>/dev/null; then
        ready=$(grep '^lab ready' "$lab_dir/serve.out")
        break
    fi
    if ! kill -0 "$lab_pid" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
if [ -z "$ready" ]; then
    echo "molecule: the lab fleet did not start; its log:" >&2
    cat "$lab_dir/serve.log" >&2 || true
    exit 1
fi
echo "molecule: $ready"

python -m lab.msi build "$root/.tmp/lab-msi" >"$lab_dir/packages.json"
export MOLECULE_LAB_INVENTORY="$lab_dir/hosts.yml"
export MOLECULE_LAB_PACKAGES="$lab_dir/packages.json"

failed=()
summary=()
for scenario in "${scenarios[@]}"; do
    started=$SECONDS
    # Without destroy in the sequence, molecule remembers "prepared" from the last run and would
    # skip prepare against this new fleet.
    molecule reset -s "$scenario" >/dev/null
    if molecule test -s "$scenario"; then
        summary+=("  $scenario: passed ($((SECONDS - started)) s)")
    else
        summary+=("  $scenario: FAILED ($((SECONDS - started)) s)")
        failed+=("$scenario")
    fi
done
echo "molecule: ${#scenarios[@]} scenarios, ${#failed[@]} failed ${failed[*]:-}"
printf '%s\n' "${summary[@]}"
[ ${#failed[@]} -eq 0 ]
