"""Windows zone Ids -> IANA zones, and the fixed-offset fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ansible_collections.rollout.windows.plugins.plugin_utils import _schedule, _timezones


@pytest.mark.parametrize("iana", sorted(set(_timezones.WINDOWS_TO_IANA.values())))
def test_every_zone_of_the_table_resolves(iana: str) -> None:
    assert ZoneInfo(iana) is not None


def test_common_ids_map_as_cldr_says() -> None:
    assert _timezones.iana_for("W. Europe Standard Time") == "Europe/Berlin"
    assert _timezones.iana_for("eastern standard time") == "America/New_York"
    assert _timezones.iana_for("UTC") == "Etc/UTC"
    assert _timezones.iana_for("Mars Standard Time") is None
    assert len(_timezones.WINDOWS_TO_IANA) >= 40


def test_a_known_id_keeps_daylight_saving() -> None:
    zone = _timezones.host_zone("W. Europe Standard Time", 60)
    assert (zone.name, zone.source, zone.warning) == ("Europe/Berlin", "windows_id", None)
    summer = datetime(2025, 7, 1, tzinfo=UTC).astimezone(zone.zone)
    assert summer.utcoffset() == timedelta(hours=2)
    # the schedule model takes the zone as it is
    assert _schedule.next_local_midnight(datetime(2025, 7, 1, 12, tzinfo=UTC), zone.zone) == datetime(
        2025, 7, 1, 22, tzinfo=UTC
    )


def test_an_unknown_id_falls_back_to_the_offset_and_says_so() -> None:
    zone = _timezones.host_zone("Mars Standard Time", -330)
    assert zone.zone == timezone(timedelta(minutes=-330))
    assert (zone.name, zone.source) == ("-05:30", "offset")
    assert zone.warning is not None
    assert "Mars Standard Time" in zone.warning


@pytest.mark.parametrize("offset", [None, "60", True, 15 * 60, -13 * 60, 1.5])
def test_a_bad_offset_without_a_known_id_is_named(offset: object) -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        _timezones.host_zone(None, offset)
