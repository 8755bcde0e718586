"""``python -m lab.msi build OUTDIR``: build the lab's test MSI packages (cached) and print where they are."""

from __future__ import annotations

import argparse
import json

from lab.msi import build_packages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.msi", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build all variants and versions into OUTDIR")
    build.add_argument("outdir")
    args = parser.parse_args(argv)
    print(json.dumps(build_packages(args.outdir), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
