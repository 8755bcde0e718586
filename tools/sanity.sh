#!/usr/bin/env bash
# ansible-test sanity on a copy of the tree at <tmp>/ansible_collections/rollout/windows.
# ansible-test resolves symlinks and, inside a larger repo, ignores .gitignore, so it
# gets a clean real copy of exactly the files git would ship (tracked or not ignored).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
# Outside the repository: inside it, ansible-test asks git, which ignores .tmp/.
work=${TMPDIR:-/tmp}/rollout-windows-sanity
dest=$work/ansible_collections/rollout/windows

# Offline stand-in for the get-pip bootstrap, only where the cache lacks one.
pip_version=$("$python" - <<'PY'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$cache" ]; then
    mkdir -p "$(dirname "$cache")"
    cp "$root/tools/get_pip_standin.py" "$cache"
    echo "sanity: installed offline get-pip stand-in at $cache"
fi

rm -rf "$work"
mkdir -p "$dest"
# lab/ (with its own tests), bench/ and tools/ are test equipment, never shipped
# (build_ignore); ruff lints them. Sanity covers the collection and its tests.
(cd "$root" && git ls-files -z --cached --others --exclude-standard -- . ':!lab' ':!tests/lab' ':!bench' ':!tools' |
    while IFS= read -r -d '' file; do [ -e "$file" ] && cp --parents "$file" "$dest/"; done)
cd "$dest"
export PATH=$(dirname "$python"):$PATH
exec ansible-test sanity --color no --python 3.11 "$@"
