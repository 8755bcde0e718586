"""Restarting the host: a restart scheduled like ``shutdown.exe /r /t N``, and the reboot itself."""

from __future__ import annotations

from datetime import timedelta

from lab.host.state import HostState


class Power(HostState):
    """``shutdown /r /t N``, ``shutdown /a`` and the reboot that clears everything a boot does not keep."""

    def schedule_restart(self, delay_sim_seconds: float, comment: str | None = None) -> bool:
        """``shutdown.exe /r /t N``: reboot after the delay; False (exit code 1190) if one is already scheduled.

        The restart runs as a one-off task rather than a lazily settled deadline because the
        fleet must notice the boot change on its own to drop the host's open connections.
        """
        if self._restart_task is not None and not self._restart_task.done():
            return False
        delay = float(delay_sim_seconds)
        if delay < 0:
            raise ValueError("delay must be >= 0")

        async def restart() -> None:
            await self.clock.sleep(delay)
            self._restart_task = None  # reboot() cancels a pending restart; this one is no longer pending
            self.reboot()

        self.scheduled_restart = {"delay": delay, "comment": comment, "requested": self.clock.now().isoformat()}
        self._restart_task = self._spawn(restart())
        return True

    def abort_restart(self) -> bool:
        """``shutdown.exe /a``: cancel a scheduled restart; False (exit code 1116) when none is scheduled."""
        task, self._restart_task = self._restart_task, None
        self.scheduled_restart = None
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def reboot(self, downtime_sim_seconds: float | None = None) -> None:
        """Restart: off the network for the downtime, then a new boot: sessions, processes, msiexec gone."""
        downtime = self.behaviour.reboot_downtime if downtime_sim_seconds is None else float(downtime_sim_seconds)
        if downtime < 0:
            raise ValueError("downtime must be >= 0")
        comment = self.scheduled_restart.get("comment") if self.scheduled_restart else None
        self.abort_restart()  # a restart that comes first makes a scheduled one moot, as on Windows
        self._go_offline(downtime)
        self.boot_id += 1
        self.boot_time = self.clock.now() + timedelta(seconds=downtime)
        self.sessions.clear()
        self.processes.clear()
        self._pending_close.clear()
        self.pending_reboot = False
        self.msiexec_running = False
        for task in self.tasks.values():
            if task["state"] == "Running":
                task["state"] = "Ready"
            if task["trigger"]["type"] == "startup" and task["state"] != "Disabled":
                task["last_run"] = self.boot_time.isoformat()
        if self.server is not None:
            self.server.service = "running"
        self.reboots.append(
            {"boot_id": self.boot_id, "boot_time": self.boot_time.isoformat(), "downtime": downtime, "comment": comment}
        )
