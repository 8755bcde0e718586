#!/usr/bin/env bash
# CHANGELOG.md is a function of the fragments: fragments are kept (keep_fragments)
# and the release for the version in galaxy.yml is rebuilt from all of them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=$(sed -n 's/^version: *//p' galaxy.yml)
printf 'ancestor: null\nreleases: {}\n' > changelogs/changelog.yaml
antsibull-changelog release --version "$version" --date "${CHANGELOG_DATE:-2026-11-21}"
