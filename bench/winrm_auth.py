"""WinRM auth and transport compared: what one WinRM command costs over each, with ansible-playbook.

Starts ``python -m lab serve --clients N`` (loopback only; every lab host listens on http 5985 and https 5986
and accepts Basic and NTLM, so one fleet serves every case), then runs the floor playbook of
``bench/rollout.py`` (one ``rollout.windows.product_info`` task per host: one WinRM command) once per case,
with the connection variables as extra vars (they override the inventory's):

- ``ntlm/http``: NTLM, message encryption (pywinrm's ``auto``: sealed SOAP bodies over plain HTTP);
- ``basic/https``: Basic over TLS, the certificate checked against the lab CA;
- ``ntlm/https``: NTLM over TLS (``auto`` does not seal inside TLS);
- ``basic/http``: Basic in the clear, for reference only: the password and every byte readable on the wire.

Kerberos (and CredSSP) cannot be measured here: the lab has no KDC and accepts only Basic and NTLM
(``Negotiate`` carrying NTLM). Certificate authentication is refused by the lab, as documented in lab/README.md.

Each case runs once untimed first, so that it finds the primitive already kept on the hosts (its first use
on a host, per scheme and port, carries its text). Per case: HTTP requests, body bytes in and out, WinRM
commands (the lab hosts' counters, per host; body bytes are HTTP bodies, so TLS records and HTTP headers are
not in them), controller CPU per host (user + sys of the ansible-playbook process tree) and the same above
the ``debug`` floor (one task result, no connection), each the lowest of ``--rounds`` runs (the machine is
shared: the lowest is the least disturbed).

    .venv/bin/python bench/winrm_auth.py [--clients 50] [--forks 50] [--rounds 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for the shared helper

from _ansible_lab import REPO, Lab, run_playbook, write_floor_playbooks

from lab.msi import build_packages

MAX_CLIENTS = 1000
HTTP_PORT, HTTPS_PORT = 5985, 5986  # the lab's defaults, one address per host (--address-mode ip)


def _cases(ca: Path) -> dict[str, dict[str, t.Any]]:
    https = {
        "ansible_port": HTTPS_PORT,
        "ansible_winrm_scheme": "https",
        "ansible_winrm_server_cert_validation": "validate",
        "ansible_winrm_ca_trust_path": str(ca),
    }
    http = {"ansible_port": HTTP_PORT, "ansible_winrm_scheme": "http"}
    return {
        "ntlm/http (encrypted)": {
            **http,
            "ansible_winrm_transport": "ntlm",
            "ansible_winrm_message_encryption": "auto",
        },
        "basic/https": {**https, "ansible_winrm_transport": "basic", "ansible_winrm_message_encryption": "auto"},
        "ntlm/https": {**https, "ansible_winrm_transport": "ntlm", "ansible_winrm_message_encryption": "auto"},
        "basic/http (not secure)": {
            **http,
            "ansible_winrm_transport": "basic",
            "ansible_winrm_message_encryption": "never",
        },
    }


def bench(args: argparse.Namespace) -> list[dict[str, t.Any]]:
    until = time.monotonic() + args.max_seconds
    rows: list[dict[str, t.Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-winrm-auth-") as tmp:
        workdir = Path(tmp)
        lab = Lab(args.clients, workdir, 120.0, args.packages)
        try:
            floors = write_floor_playbooks(workdir)
            cases = {"debug floor": ({}, floors["debug"])}
            cases |= {name: (extra, floors["product_info"]) for name, extra in _cases(lab.ca_path).items()}
            # One untimed pass per case first: the first use of a primitive on a host carries its text and the
            # host keeps it, once per way of reaching the host (scheme and port), so each case warms up its own.
            for name, (extra, playbook) in cases.items():
                log = workdir / f"warm-{name.split()[0].replace('/', '-')}.log"
                warm = run_playbook(lab.inventory, playbook, extra, forks=args.forks, timeout=600, log=log)
                if warm.rc != 0:
                    raise RuntimeError(f"{name}, warm-up: ansible-playbook rc {warm.rc}:\n{warm.output[-3000:]}")
            best: dict[str, dict[str, t.Any]] = {}
            for round_ in range(args.rounds):
                for name, (extra, playbook) in cases.items():
                    left = until - time.monotonic()
                    if left <= 0:
                        raise TimeoutError("--max-seconds spent")
                    lab.control.reset_counters()
                    log = workdir / f"{name.split()[0].replace('/', '-')}-{round_}.log"
                    run = run_playbook(lab.inventory, playbook, extra, forks=args.forks, timeout=left, log=log)
                    if run.rc != 0:
                        raise RuntimeError(f"{name}: ansible-playbook rc {run.rc}:\n{run.output[-3000:]}")
                    row = {"case": name, "clients": args.clients, "forks": args.forks, "wall": run.wall}
                    row |= {"cpu_host": run.cpu / len(lab.hosts), **lab.wire()}
                    print(
                        f"round {round_ + 1}: {name}: {row['cpu_host']:.3f} CPU-s/host, {row['wall']:.1f} s", flush=True
                    )
                    if name not in best or row["cpu_host"] < best[name]["cpu_host"]:
                        best[name] = row
            floor = best["debug floor"]["cpu_host"]
            for row in best.values():
                row["cpu_above_debug"] = row["cpu_host"] - floor
                rows.append(row)
        finally:
            lab.stop()
    return rows


def _table(rows: list[dict[str, t.Any]]) -> str:
    lines = [
        "| case | HTTP requests/cmd | bytes in / out per cmd | controller CPU/host | above the debug floor | wall |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        per = max(row["commands"], 1.0)  # the debug floor sends no command
        lines.append(
            f"| {row['case']} | {row['requests'] / per:.1f} "
            f"| {row['bytes_in'] / per:,.0f} / {row['bytes_out'] / per:,.0f} "
            f"| {row['cpu_host'] * 1000:.0f} ms | {row['cpu_above_debug'] * 1000:.0f} ms | {row['wall']:.1f} s |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="runs per case; the lowest CPU is reported")
    parser.add_argument("--max-seconds", type=float, default=1200.0, help="time budget for the whole benchmark")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be from 1 to {MAX_CLIENTS}")
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be from 1 to 10")
    args.packages = REPO / ".tmp" / "lab-msi"
    build_packages(args.packages)
    rows = bench(args)
    print(f"\n{args.clients} clients, forks {args.forks}, lowest of {args.rounds} round(s); one product_info per host")
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
