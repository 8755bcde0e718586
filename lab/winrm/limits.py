"""The WinRM service quotas a simulated host enforces, with Windows' defaults.

Defaults are what `winrm get winrm/config` shows on Windows 10/11 and Server 2019/2022 out of the
box; Group Policy or an admin may lower any of them, so a fleet can set its own (FleetConfig
``winrm_limits``) and a test can lower one to show it instead of opening 31 shells.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class WinRMLimits:
    # winrm/config MaxEnvelopeSizekb = 500: MS-WSMV 2.2.4.10 ConfigType ("SHOULD be 500 but MAY be 150";
    # it also limits the size of client request packets), and the `winrm get winrm/config` listings in
    # pywinrm#208, knife-windows#172, ansible.windows#391 (Windows 10 / Server 2019 / 2022: 500).
    max_envelope_size_kb: int = 500
    # winrm/config/winrs MaxShellsPerUser = 30: MS-WSMV 2.2.4.42 WinrsType, ansible/ansible#66846.
    max_shells_per_user: int = 30
    # winrm/config/service MaxConcurrentOperationsPerUser = 1500: pywinrm#208, knife-windows#172,
    # WinRb/WinRM#197 (15 on Windows 7 / 2008 R2, 1500 since Windows 8 / 2012).
    max_concurrent_operations_per_user: int = 1500
    # winrm/config/winrs IdleTimeout = 7,200,000 ms on current Windows (ansible/ansible#66846 listing;
    # PowerShell/PowerShell#12423 "a long time out (2h)"); MS-WSMV 2.2.4.42 still names 180,000.
    idle_timeout_ms: int = 7_200_000
    # winrm/config MaxTimeoutms = 60,000: MS-WSMV 2.2.4.10 and the pywinrm#208 listing. A larger
    # wsman:OperationTimeout is not refused: the server uses MaxTimeoutms instead (MS-WSMV 3.1.4.1.6).
    max_timeout_ms: int = 60_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"WinRM limit {f.name} must be a positive integer, got {value!r}")
        # Windows' own lower bounds (winrm set refuses less): MaxEnvelopeSizekb 32 (MS-WSMV 2.2.4.10),
        # MaxTimeoutms 500 (WSManDsc WSManConfig schema).
        if self.max_envelope_size_kb < 32:
            raise ValueError("WinRM limit max_envelope_size_kb must be at least 32 (Windows' minimum)")
        if self.max_timeout_ms < 500:
            raise ValueError("WinRM limit max_timeout_ms must be at least 500 (Windows' minimum)")

    @property
    def max_envelope_bytes(self) -> int:
        return self.max_envelope_size_kb * 1024

    @property
    def idle_timeout_seconds(self) -> float:
        return self.idle_timeout_ms / 1000.0

    @property
    def max_timeout_seconds(self) -> float:
        return self.max_timeout_ms / 1000.0
