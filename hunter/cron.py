"""Crontab schedules of hunts: an APScheduler trigger with crontab's meaning, and the longest gap."""

from __future__ import annotations

import itertools
from typing import Any

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: 0 (and 7) is Sunday


def cron_trigger(expression: str, *, jitter: int | None = None) -> Any:
    """An APScheduler 3.x ``CronTrigger`` (UTC) for a standard 5-field crontab expression.

    ``CronTrigger.from_crontab`` counts weekdays from Monday = 0, unlike cron (Sunday = 0), so
    the day-of-week field is rewritten into day names here. Cron runs a job when either a
    restricted day of month or a restricted day of week matches, APScheduler only when both do,
    so restricting both is refused rather than scheduled differently from what cron would do.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    if day not in ("*", "?") and weekday not in ("*", "?"):
        raise ValueError("restricting both day of month and day of week is not supported")
    return CronTrigger(
        minute=minute,
        hour=hour,
        day="*" if day == "?" else day,
        month=month,
        day_of_week=_cron_weekdays(weekday),
        timezone="UTC",
        jitter=jitter,
    )


def _cron_weekdays(field: str) -> str:
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, slash, step_text = part.partition("/")
        step = int(step_text) if slash and step_text.isdigit() else 0 if slash else 1
        if step < 1:
            raise ValueError(f"bad step in day of week {part!r}")
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            first, last = span.split("-", 1)
            low, high = _cron_weekday(first), _cron_weekday(last)
        else:
            low = _cron_weekday(span)
            high = 6 if slash else low
        if low > high:
            raise ValueError(f"day of week range {span!r} runs backwards")
        days.update(day % 7 for day in range(low, high + 1, step))
    return "*" if len(days) == 7 else ",".join(_WEEKDAYS[day] for day in sorted(days))


def _cron_weekday(token: str) -> int:
    name = token.strip().lower()[:3]
    if name in _WEEKDAYS:
        return _WEEKDAYS.index(name)
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    raise ValueError(f"bad day of week {token!r} (0-7 or sun-sat)")


def cron_longest_gap_ns(expression: str) -> int:
    """The longest time between two consecutive runs of a cron schedule (UTC, over 8 years).

    Minutes and hours give the same times on every day the schedule runs on, so the runs of one
    such day and the list of such days (found by jumping from one to the next) are enough: a few
    thousand trigger calls even for ``*/5 * * * *``, and a leap-day schedule is still seen twice.
    """
    from datetime import UTC, datetime, timedelta

    trigger = cron_trigger(expression)
    day = timedelta(days=1)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=8 * 366)

    def next_fire(after: datetime, previous: datetime | None = None) -> datetime | None:
        fire: datetime | None = trigger.get_next_fire_time(previous, after)
        return fire if fire is not None and fire < end else None

    first = next_fire(start)
    if first is None:
        raise ValueError("the schedule never fires")
    midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
    times: list[timedelta] = []
    fire: datetime | None = first
    while fire is not None and fire < midnight + day:
        times.append(fire - midnight)
        fire = next_fire(fire, fire)
    days = [midnight]
    while (fire := next_fire(days[-1] + day)) is not None:
        days.append(fire.replace(hour=0, minute=0, second=0, microsecond=0))
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    gaps += [(later + times[0]) - (earlier + times[-1]) for earlier, later in itertools.pairwise(days)]
    if not gaps:
        raise ValueError("the schedule fires only once in eight years")
    return int(max(gaps).total_seconds()) * 1_000_000_000


# ---- loading ----------------------------------------------------------------------------------------
