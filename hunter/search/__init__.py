"""Where events come from: Elasticsearch (EQL search API) or local files with the embedded engine."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import SearchSettings
from ..hunts import Hunt


@dataclass(frozen=True)
class TimeField:
    """The field a hunt's windows apply to: its timestamp override, else the timestamp field.

    As in Kibana, an event without the override field is judged by the timestamp field instead
    (unless the hunt disables that fallback); sequences are still ordered by the timestamp field.
    """

    timestamp: str
    override: str | None = None
    fallback: bool = True


def time_field(hunt: Hunt, settings: SearchSettings) -> TimeField:
    """The hunt's own ``timestamp_override`` if it has one, else the settings' (``[search]``)."""
    own: str | None = getattr(hunt, "timestamp_override", None)
    override = own or settings.timestamp_override
    if not override or override == settings.timestamp_field:
        return TimeField(settings.timestamp_field)
    fallback = bool(getattr(hunt, "timestamp_override_fallback", True)) if own else True
    return TimeField(settings.timestamp_field, override, fallback)
