"""Which hunts the forked helper of a split pass searches, and which lines it reads.

Both processes of a split pass read the files. The parent parses every line (it counts the events
of each hunt's indices, the bad lines and the lines no hunt can use); the helper need parse only the
lines its own hunts can use. Most rules of a library look at one or two event categories (``process
where``, ``file where``), so a helper whose hunts all look at a few categories parses only the lines
of those (:func:`hunter.eql.prefilter.category_filter`): about half of a mixed export, where an
alternating split has both processes parse all of it.

:func:`split` chooses the categories and the hunts from a sample of the files' lines, with a model
of the work: a hunt costs the share of lines whose category it looks at (every line for a hunt that
does not say), a parsed line costs :data:`PARSE_WEIGHT` hunts' worth. It takes the split whose
busier process has least to do, or the alternating one when none does better. The model is rough;
concluding the hunts evens out what it misses (:mod:`.sharing`), and the results are the same
whichever process searches a hunt.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

from ..eql.fields import flatten, make_getter

# Parsing a line costs what about this many hunts looking at it do: measured over Elastic's rule
# library and 100,000 mixed events, parsing was 0.85 s a process, and its 1,024 hunts looked at
# about 45 million lines of their categories in 4.9 s (0.11 us each) against 8.5 us a parse.
PARSE_WEIGHT = 78.0
SAMPLE_LINES = 2_000  # lines sampled in all (split between the files, at least MIN_SAMPLE each)
MIN_SAMPLE = 100
MAX_CATEGORIES = 8  # categories the helper's may be chosen among (the most looked at)
MAX_FILES = 64  # files sampled, at most (a folder of thousands is not opened one by one before the pass)

_CATEGORY = make_getter(("event", "category"))


@dataclass
class Shares:
    """The hunts (by number) each process searches, and the categories of the lines the helper
    parses (None: every line)."""

    mine: list[int]
    theirs: list[int]
    categories: frozenset[str] | None = None


def alternate(count: int) -> Shares:
    """Every other hunt each: the split when nothing better is known."""
    return Shares(list(range(0, count, 2)), list(range(1, count, 2)))


def split(hunts: Sequence[frozenset[str] | None], sample: Sequence[tuple[frozenset[str], float]]) -> Shares:
    """The shares of hunts that look at the categories ``hunts`` gives (None: at every line), over
    lines whose categories and weights (how many lines each stands for) ``sample`` gives."""
    shares = alternate(len(hunts))
    weight = sum(share for _categories, share in sample)
    if not hunts or weight <= 0:
        return shares
    # the sample and the hunts by their distinct category sets (a library has a few dozen)
    lines: dict[frozenset[str], float] = {}
    for held, share in sample:
        lines[held] = lines.get(held, 0.0) + share / weight

    def read(categories: frozenset[str]) -> float:
        """The share of lines that hold one of ``categories``."""
        return sum(share for held, share in lines.items() if held & categories)

    groups: dict[frozenset[str] | None, list[int]] = {}
    for number, categories in enumerate(hunts):
        groups.setdefault(categories, []).append(number)
    cost = {categories: 1.0 if categories is None else read(categories) for categories in groups}
    total = sum(cost[categories] * len(numbers) for categories, numbers in groups.items())
    looked_at: dict[str, float] = {}
    for categories, numbers in groups.items():
        for category in categories or ():
            looked_at[category] = looked_at.get(category, 0.0) + cost[categories] * len(numbers)
    candidates = sorted(looked_at, key=lambda category: (-looked_at[category], category))[:MAX_CATEGORIES]
    best = PARSE_WEIGHT + total / 2  # the alternating split, about
    for size in range(1, len(candidates) + 1):
        for chosen in map(frozenset, itertools.combinations(candidates, size)):
            eligible = [c for c in groups if c is not None and c <= chosen]
            parsed = PARSE_WEIGHT * read(chosen)
            # the helper's work equal to the parent's, as near as its hunts allow
            target = (PARSE_WEIGHT - parsed + total) / 2
            theirs: list[int] = []
            taken = 0.0
            for categories in sorted(eligible, key=lambda c: (-cost[c], sorted(c))):
                for number in groups[categories]:
                    if taken + cost[categories] <= target:
                        theirs.append(number)
                        taken += cost[categories]
            load = max(parsed + taken, PARSE_WEIGHT + total - taken)
            if theirs and load < best:
                best = load
                kept = set(theirs)
                shares = Shares([n for n in range(len(hunts)) if n not in kept], sorted(theirs), chosen)
    return shares


def sample_categories(
    files: Sequence[Path], opener: Callable[[Path], IO[bytes]], *, lines: int = SAMPLE_LINES
) -> list[tuple[frozenset[str], float]]:
    """The ``event.category`` values of the first lines of each file (of at most MAX_FILES of them,
    spread over the list; a line that does not parse is left out), each with the number of the
    file's lines it stands for (by bytes read). A file that cannot be read, is damaged, or holds a
    JSON array gives nothing: this only guides the split, and the pass itself reports such files."""
    if len(files) > MAX_FILES:
        files = [files[number * len(files) // MAX_FILES] for number in range(MAX_FILES)]
    each = max(MIN_SAMPLE, lines // max(1, len(files)))
    found: list[tuple[frozenset[str], float]] = []
    for path in files:
        try:
            size = path.stat().st_size
            with opener(path) as handle:
                start = handle.peek(64)[:64] if hasattr(handle, "peek") else b""
                if start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
                    continue  # a JSON array, perhaps on one line: not read here
                head = list(itertools.islice(handle, each))
                inner = getattr(handle, "fileobj", None)  # gzip: the compressed bytes read so far
                read = inner.tell() if inner is not None else sum(len(line) for line in head)
        except Exception:  # noqa: BLE001, S112 - unreadable or damaged (zlib.error...): no sample
            continue
        stands_for = max(1.0, size / read) if read else 1.0
        found.extend((categories, stands_for) for categories in _categories(head))
    return found


def _categories(lines: Iterable[bytes]) -> Iterable[frozenset[str]]:
    for line in lines:
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(document, dict):
            source = document.get("_source")
            source = source if isinstance(source, dict) else document
            yield frozenset(str(value) for value in flatten(_CATEGORY(source)))
