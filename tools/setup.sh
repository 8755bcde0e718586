#!/usr/bin/env bash
# Everything `make` needs, from a fresh Debian machine with Python 3.11:
# Debian packages (when missing), the .venv with pinned requirements, and the
# collection link that lets ansible find rollout.windows in this checkout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}

# wixl/msiinfo build and read the lab's test MSIs; shellcheck lets ansible-test
# sanity check shell scripts instead of skipping them.
missing=()
command -v wixl >/dev/null || missing+=(wixl)
command -v msiinfo >/dev/null || missing+=(msitools)
command -v shellcheck >/dev/null || missing+=(shellcheck)
# mcs compiles the primitives' Add-Type C# sources (tools/cs_compile.py, make ps-parse).
command -v mcs >/dev/null || missing+=(mono-mcs)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing Debian packages: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: missing Debian packages ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
# requirements.lock pins requirements-dev.txt and everything below it with hashes: a file on the index
# that changed since it was locked, or a dependency nobody pinned, makes pip fail instead of installing.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock

link=.tmp/collections/ansible_collections/rollout/windows
if [ ! -e "$link" ]; then
    mkdir -p "$(dirname "$link")"
    ln -sfn ../../../.. "$link"
fi
echo "setup: ready ($(.venv/bin/ansible --version | head -1))"
