#!/usr/bin/env bash
# `make demo`: a rollout against a simulated fleet, end to end, in about a minute.
# Builds the lab's test MSIs, starts the lab in the background (writing the default
# inventory inventories/lab/hosts.yml), installs 9.3.0 on every client, upgrades them
# to 9.3.1, and always stops the lab again, whatever happened in between.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

clients=${DEMO_CLIENTS:-40}
# 60 simulated seconds per real second: an msiexec run of 20-60 simulated seconds takes about one real second.
time_scale=${DEMO_TIME_SCALE:-60}
ready_timeout=${DEMO_READY_TIMEOUT:-60}
state_dir=.tmp/lab
inventory=inventories/lab/hosts.yml
log=.tmp/demo/lab.log

# Runnable outside make too: the same tools and collection path the Makefile exports.
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$root/.tmp/collections}"
export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$root/ansible.cfg}"
python="$root/.venv/bin/python"
# The live progress per wave and the report at the end: enabled here, not in ansible.cfg, so plain
# ansible-playbook runs stay as they are. One report (JSON, Markdown, HTML) per rollout.
reports="$root/.tmp/demo/reports"
export ANSIBLE_CALLBACKS_ENABLED="${ANSIBLE_CALLBACKS_ENABLED:-rollout.windows.rollout_progress}"
export ROLLOUT_PROGRESS_REPORT_DIR="${ROLLOUT_PROGRESS_REPORT_DIR:-$reports}"
export ROLLOUT_PROGRESS_INTERVAL="${ROLLOUT_PROGRESS_INTERVAL:-10}"

say() { printf '\n==> %s\n' "$*"; }
# What the hosts themselves report (the lab's control API), independent of Ansible's recap.
fleet_versions() {
    "$python" - "$state_dir/lab.json" <<'PY'
import collections, json, sys
from lab.control import ControlClient
api = ControlClient(json.load(open(sys.argv[1]))["control_url"])
seen = collections.Counter()
for host in api.hosts():
    if host["kind"] == "client":
        versions = [p["version"] for p in api.host(host["name"])["products"] if p["scope"] == "machine"]
        seen[", ".join(versions) or "not installed"] += 1
print("fleet: " + "; ".join(f"{n} clients {v}" for v, n in sorted(seen.items())))
PY
}
die() {
    echo "demo: $*" >&2
    exit 1
}

# Two labs on one state dir and inventory would overwrite each other's hosts.yml.
if [ -f "$state_dir/lab.json" ]; then
    other=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$state_dir/lab.json" 2>/dev/null || true)
    if [ -n "$other" ] && kill -0 "$other" 2>/dev/null; then
        die "a lab is already running (pid $other, $state_dir/lab.json); stop it first (kill $other)"
    fi
fi

say "building the test packages (cached after the first time)"
"$python" -m lab.msi build .tmp/lab-msi >/dev/null

lab_pid=
stop_lab() {
    local rc=$?
    if [ -n "$lab_pid" ] && kill -0 "$lab_pid" 2>/dev/null; then
        kill -TERM "$lab_pid" 2>/dev/null || true
        # The lab exits within a second on SIGTERM; never leave it behind if it hangs.
        for _ in $(seq 1 50); do
            kill -0 "$lab_pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$lab_pid" 2>/dev/null; then
            echo "demo: the lab did not stop on SIGTERM; killing pid $lab_pid" >&2
            kill -KILL "$lab_pid" 2>/dev/null || true
        fi
        wait "$lab_pid" 2>/dev/null || true
        echo "demo: lab stopped"
    fi
    [ "$rc" = 0 ] || echo "demo: FAILED (exit code $rc)" >&2
    exit "$rc"
}
trap stop_lab EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The default range 127.0.1.x first; when another fleet (a test session, another lab) holds
# it, a random 127.x.y.1 range, as the test fleets do.
mkdir -p "$(dirname "$log")"
ready=
for attempt in 1 2 3 4 5; do
    if [ "$attempt" = 1 ]; then base=127.0.1.1; else base="127.$((RANDOM % 200 + 30)).$((RANDOM % 250 + 1)).1"; fi
    say "starting the lab: $clients clients on $base, time scale $time_scale"
    # Emptied here, not by the child's redirection: that one may come after the first look
    # at the log, which would then see the previous run's ready line.
    : >"$log"
    "$python" -m lab serve --clients "$clients" --time-scale "$time_scale" --base-address "$base" \
        --state-dir "$state_dir" --inventory "$inventory" >>"$log" 2>&1 &
    lab_pid=$!
    deadline=$((SECONDS + ready_timeout))
    while kill -0 "$lab_pid" 2>/dev/null; do
        if grep -q '^lab ready' "$log"; then
            ready=1
            break 2
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 20 "$log" >&2
            die "the lab printed no ready line within ${ready_timeout}s (log: $log)"
        fi
        sleep 0.2
    done
    # The lab has exited (so this wait returns at once): another range only when this one was taken.
    wait "$lab_pid" 2>/dev/null || true
    lab_pid=
    if ! grep -qi 'address already in use' "$log"; then
        tail -n 20 "$log" >&2
        die "the lab failed to start (log: $log)"
    fi
    echo "demo: $base is taken (another fleet is running); trying another range"
done
[ -n "$ready" ] || die "no free loopback range for the lab after 5 attempts (log: $log)"
grep '^lab ready' "$log"

# Waves (the default strategy): the pilot, then wave_1..wave_3 of the lab inventory, each cut into
# batches of at most the backend's max parallel syncs (inventories/lab/group_vars/all.yml), with the
# success criterion checked after every batch.
say "rollout 1: install 9.3.0 on every client, wave by wave"
ansible-playbook playbooks/rollout.yml -e lab_package_version=9.3.0
fleet_versions

say "rollout 2: upgrade every client to 9.3.1, wave by wave"
ansible-playbook playbooks/rollout.yml -e lab_package_version=9.3.1
fleet_versions

say "demo passed: $clients clients upgraded from 9.3.0 to 9.3.1"
echo "rollout reports (JSON, Markdown, HTML with a chart per wave) in $ROLLOUT_PROGRESS_REPORT_DIR:"
ls -1t "$ROLLOUT_PROGRESS_REPORT_DIR" | head -n 6 | sed 's/^/  /'
