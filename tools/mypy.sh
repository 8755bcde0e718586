#!/usr/bin/env bash
# Type checks for `make lint`, with the settings in pyproject.toml [tool.mypy].
# plugins/ is checked under the name it imports itself by (ansible_collections.rollout.windows.plugins),
# through the collection link tools/setup.sh makes; lab/ and tools/ are ordinary packages at the root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-$root/.venv/bin/python}
link=.tmp/collections/ansible_collections/rollout/windows
if [ ! -e "$link/plugins" ]; then
    echo "mypy: $link is missing; run make setup" >&2
    exit 2
fi
# Reported as plugins/... rather than through the link, so the paths open from the checkout.
"$python" -m mypy -p ansible_collections.rollout.windows.plugins -p lab -p tools "$@" | sed "s#^$link/##"
