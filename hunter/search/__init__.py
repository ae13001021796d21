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


@dataclass(frozen=True)
class EqlFields:
    """The fields an EQL search of a hunt uses: the hunt's own where it sets them, else the settings'."""

    timestamp: str
    event_category: str
    tiebreaker: str | None


def eql_fields(hunt: Hunt, settings: SearchSettings) -> EqlFields:
    """``timestamp_field``, ``event_category_field`` and ``tiebreaker_field`` for ``hunt``."""
    return EqlFields(
        hunt.timestamp_field or settings.timestamp_field,
        hunt.event_category_field or settings.event_category_field,
        hunt.tiebreaker_field or settings.tiebreaker_field,
    )


def time_field(hunt: Hunt, settings: SearchSettings) -> TimeField:
    """The hunt's own ``timestamp_override`` if it has one, else the settings' (``[search]``)."""
    timestamp = hunt.timestamp_field or settings.timestamp_field
    override = hunt.timestamp_override or settings.timestamp_override
    if not override or override == timestamp:
        return TimeField(timestamp)
    fallback = hunt.timestamp_override_fallback if hunt.timestamp_override else True
    return TimeField(timestamp, override, fallback)
