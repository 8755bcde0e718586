"""Offline stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test sanity creates virtual environments without pip and then runs a
get-pip script fetched from a host that this project's machines cannot reach.
It first looks in ``~/.ansible/test/cache/get_pip_<version>.py``; ``make sanity``
copies this file there when the cache file is absent. It does what get-pip does
with what Python already has: ``ensurepip``, then ``pip install`` of the
requested packages through the machine's normal package index configuration.
"""

from __future__ import annotations

import os
import subprocess
import sys

# get-pip understands these; pip install does not.
_GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}


def main() -> int:
    # ensurepip sets PIP_CONFIG_FILE=/dev/null in its environment, which would drop
    # the machine's index configuration for the pip call that follows.
    env = dict(os.environ)
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, env=env, stdout=subprocess.DEVNULL)
    args = [arg for arg in sys.argv[1:] if arg not in _GET_PIP_ONLY_FLAGS]
    return subprocess.run([sys.executable, "-m", "pip", "install", *args], check=False, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
