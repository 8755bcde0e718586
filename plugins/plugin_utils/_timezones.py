# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Windows host's time zone as the controller can compute with it: Windows zone Id -> IANA name.

Windows names its zones by registry key (``[TimeZoneInfo]::Local.Id``, e.g. ``W. Europe Standard Time``);
Python's ``zoneinfo`` knows IANA names. The auto-updater waits "until the next midnight" in host local
time, so the controller needs the zone's rules, not only today's offset: a fixed offset is wrong after the
next daylight-saving change. Where the Id is not in the table, the reported current offset stands in, and
the caller says so.
"""

from __future__ import annotations

import typing as t
from datetime import timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The most common zones, from the Unicode CLDR's windowsZones.xml (common/supplemental/windowsZones.xml,
# https://github.com/unicode-org/cldr), each Windows Id's territory "001" row: the zone CLDR names for the
# Id when no country is known. Names are CLDR's (Asia/Calcutta, Europe/Kiev), which the IANA database keeps
# as links to the current names.
WINDOWS_TO_IANA: dict[str, str] = {
    "Dateline Standard Time": "Etc/GMT+12",
    "UTC-11": "Etc/GMT+11",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time": "America/Denver",
    "Central America Standard Time": "America/Guatemala",
    "Central Standard Time": "America/Chicago",
    "Central Standard Time (Mexico)": "America/Mexico_City",
    "Canada Central Standard Time": "America/Regina",
    "SA Pacific Standard Time": "America/Bogota",
    "Eastern Standard Time": "America/New_York",
    "Atlantic Standard Time": "America/Halifax",
    "SA Western Standard Time": "America/La_Paz",
    "Newfoundland Standard Time": "America/St_Johns",
    "E. South America Standard Time": "America/Sao_Paulo",
    "Argentina Standard Time": "America/Buenos_Aires",
    "UTC": "Etc/UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris",
    "Central European Standard Time": "Europe/Warsaw",
    "W. Central Africa Standard Time": "Africa/Lagos",
    "GTB Standard Time": "Europe/Bucharest",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "Egypt Standard Time": "Africa/Cairo",
    "South Africa Standard Time": "Africa/Johannesburg",
    "Israel Standard Time": "Asia/Jerusalem",
    "Turkey Standard Time": "Europe/Istanbul",
    "Russian Standard Time": "Europe/Moscow",
    "Arab Standard Time": "Asia/Riyadh",
    "Iran Standard Time": "Asia/Tehran",
    "Arabian Standard Time": "Asia/Dubai",
    "Pakistan Standard Time": "Asia/Karachi",
    "India Standard Time": "Asia/Calcutta",
    "Nepal Standard Time": "Asia/Katmandu",
    "Bangladesh Standard Time": "Asia/Dhaka",
    "SE Asia Standard Time": "Asia/Bangkok",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Taipei Standard Time": "Asia/Taipei",
    "W. Australia Standard Time": "Australia/Perth",
    "Korea Standard Time": "Asia/Seoul",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "AUS Central Standard Time": "Australia/Darwin",
    "E. Australia Standard Time": "Australia/Brisbane",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
}
_BY_LOWER = {key.lower(): value for key, value in WINDOWS_TO_IANA.items()}
# Offsets Windows can report: UTC-12:00 (Dateline) to UTC+14:00 (Line Islands).
MIN_OFFSET_MINUTES = -12 * 60
MAX_OFFSET_MINUTES = 14 * 60


class HostZone(t.NamedTuple):
    """The zone the controller computes host local times in, and how it was chosen."""

    zone: tzinfo
    name: str  # the IANA name, or the fixed offset as +HH:MM
    source: str  # "windows_id" or "offset"
    warning: str | None


def iana_for(windows_id: str) -> str | None:
    """The IANA name of a Windows zone Id (case as Windows writes it or not), None when the table lacks it."""
    return _BY_LOWER.get(windows_id.strip().lower()) if isinstance(windows_id, str) else None


def offset_text(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def host_zone(windows_id: t.Any, offset_minutes: t.Any) -> HostZone:
    """The host's zone from its Windows Id, else from its current UTC offset (with a warning saying so).

    Both come from the host and are checked here: an Id that is not a string, or an offset that is not a
    whole number of minutes within Windows' range, is named in the ValueError.
    """
    name = iana_for(windows_id) if isinstance(windows_id, str) else None
    if name is not None:
        try:
            return HostZone(ZoneInfo(name), name, "windows_id", None)
        except ZoneInfoNotFoundError:
            pass  # this controller's time-zone database lacks the zone: the offset stands in
    if (
        isinstance(offset_minutes, bool)
        or not isinstance(offset_minutes, int)
        or not MIN_OFFSET_MINUTES <= offset_minutes <= MAX_OFFSET_MINUTES
    ):
        raise ValueError(
            f"the host's time zone {windows_id!r} is not known and its UTC offset {offset_minutes!r} "
            f"is not a number of minutes from {MIN_OFFSET_MINUTES} to {MAX_OFFSET_MINUTES}"
        )
    text = offset_text(offset_minutes)
    warning = (
        f"the host's time zone {windows_id!r} is not in the collection's table of Windows zones: local times "
        f"use its current UTC offset {text}, without daylight-saving changes"
    )
    return HostZone(timezone(timedelta(minutes=offset_minutes)), text, "offset", warning)
