"""The zone an event is written in, as each service names it: IANA for Google, Windows ids for Graph and EWS.

Windows ids come from CLDR's windowsZones (kept in exchangelib.winzone). Wall-clock times are computed in the
Windows zone's own rules (the CLDR "001" zone of that id), so the instant is exact whatever the server makes of
the id. A zone with no Windows id, or whose offsets differ from its id's at the event's times (CLDR approximates
some zones, e.g. Antarctica/Troll as W. Europe), is written in UTC at the same instant, and logged.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

UTC_ZONE = "UTC"


@dataclass(frozen=True)
class WireZone:
    name: str
    """The zone's name on the wire: an IANA name (Google) or a Windows id (Graph, EWS)."""
    rules: ZoneInfo
    """The rules wall-clock times are computed in."""

    def wall_clock(self, moment: datetime) -> datetime:
        """`moment` (aware) as naive local time in this zone."""
        return moment.astimezone(self.rules).replace(tzinfo=None)


UTC_WIRE_ZONE = WireZone(UTC_ZONE, ZoneInfo("UTC"))


@functools.cache
def _cldr() -> tuple[Mapping[str, tuple[str, str]], Mapping[str, str]]:
    """exchangelib's CLDR tables (IANA -> (Windows id, territory); Windows id -> its "001" IANA zone), imported on
    first use: importing exchangelib takes seconds on a busy host, and Google's writes need none of it."""
    from exchangelib.winzone import IANA_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP

    return IANA_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _fallback(name: str, reason: str) -> WireZone:
    log.warning("event zone %r %s: written in UTC at the same instant", name, reason)
    return UTC_WIRE_ZONE


def iana_zone(name: str) -> WireZone:
    """The zone as Google takes it: the IANA name itself, or UTC when the name is unknown."""
    rules = _zone(name)
    return WireZone(name, rules) if rules is not None else _fallback(name, "is not a known IANA zone")


def windows_zone(name: str, moments: Iterable[datetime]) -> WireZone:
    """The zone as Graph and EWS take it: the Windows id CLDR maps `name` to, computed in that id's own rules
    (its CLDR "001" zone); UTC when there is no such id or its offsets differ at any of `moments`."""
    rules = _zone(name)
    if rules is None:
        return _fallback(name, "is not a known IANA zone")
    iana_to_windows, windows_to_iana = _cldr()
    windows_id = iana_to_windows.get(name, (None, None))[0]
    canonical = _zone(windows_to_iana.get(windows_id or "", ""))
    if windows_id is None or canonical is None:
        return _fallback(name, "has no Windows time zone id")
    if any(m.astimezone(rules).utcoffset() != m.astimezone(canonical).utcoffset() for m in moments):
        return _fallback(name, f"keeps other offsets than {windows_id!r} at the event's times")
    return WireZone(windows_id, canonical)
