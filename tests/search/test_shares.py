"""Which hunts the helper of a split pass searches and which lines it reads (hunter.search.shares):
the model's choice over made-up libraries and samples, and the sample read from event files."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from hunter.search.local import _open
from hunter.search.shares import PARSE_WEIGHT, Shares, alternate, sample_categories, split

PROCESS, FILE, NETWORK = frozenset({"process"}), frozenset({"file"}), frozenset({"network"})


def lines(**shares: float) -> list[tuple[frozenset[str], float]]:
    """A sample: each category's share of 1,000 lines."""
    return [(frozenset({name}), 1.0) for name, share in shares.items() for _ in range(round(share * 1000))]


def loads(
    hunts: list[frozenset[str] | None], sample: list[tuple[frozenset[str], float]], shares: Shares
) -> tuple[float, float]:
    """The model's work of each process for ``shares`` (parent, helper)."""
    weight = sum(share for _held, share in sample)

    def read(categories: frozenset[str] | None) -> float:
        if categories is None:
            return 1.0
        return sum(share for held, share in sample if held & categories) / weight

    parent = PARSE_WEIGHT + sum(read(hunts[n]) for n in shares.mine)
    helper = PARSE_WEIGHT * read(shares.categories) + sum(read(hunts[n]) for n in shares.theirs)
    return parent, helper


def alternating(hunts: list[frozenset[str] | None], sample: list[tuple[frozenset[str], float]]) -> float:
    """The model's work of the busier process of an alternating split (each parses every line)."""
    parent, helper = loads(hunts, sample, alternate(len(hunts)))
    return max(parent, helper)


def test_a_library_of_one_category_goes_to_the_helper_which_reads_only_its_lines() -> None:
    """Many process rules over lines that are half process events: the helper takes process rules
    and parses only process lines; the rest, and every rule that looks at any line, stay here."""
    hunts: list[frozenset[str] | None] = [PROCESS] * 600 + [FILE] * 150 + [NETWORK] * 100 + [None] * 80
    sample = lines(process=0.4, file=0.35, network=0.25)
    shares = split(hunts, sample)
    assert shares.categories is not None and "process" in shares.categories
    assert sorted(shares.mine + shares.theirs) == list(range(len(hunts)))  # each hunt once
    assert all(hunts[n] is not None and hunts[n] <= shares.categories for n in shares.theirs)  # type: ignore[operator]
    parent, helper = loads(hunts, sample, shares)
    assert max(parent, helper) < alternating(hunts, sample)


def test_the_helper_hands_back_what_would_make_it_the_busier() -> None:
    """Rules that all look at one rare category, many of them: the helper keeps only what evens the
    two out (it cannot take the rules that look at other lines without parsing them)."""
    hunts: list[frozenset[str] | None] = [*[PROCESS] * 2_000, *[FILE] * 10]
    sample = lines(process=0.5, file=0.5)
    shares = split(hunts, sample)
    parent, helper = loads(hunts, sample, shares)
    assert 0 < len(shares.theirs) < 2_000
    assert abs(parent - helper) <= 0.5 + 1e-9  # within one process rule's cost


def test_without_categories_or_a_sample_every_other_hunt_each() -> None:
    """Hunts that look at every line (or no sample to go by): the alternating split, every line read."""
    assert split([None] * 6, lines(process=1.0)) == alternate(6)
    assert split([PROCESS] * 6, []) == alternate(6)
    assert split([], lines(process=1.0)) == alternate(0)
    assert alternate(5) == Shares([0, 2, 4], [1, 3], None)


def test_with_few_rules_parsing_decides() -> None:
    """Few hunts: what the helper skips parsing weighs most. Here it takes the common category's
    rules (skipping the rare lines beats taking the rare rules and parsing little)."""
    hunts: list[frozenset[str] | None] = [*[PROCESS] * 3, *[FILE] * 3]
    sample = lines(process=0.9, file=0.1)
    shares = split(hunts, sample)
    assert shares.categories == PROCESS and shares.theirs == [0, 1, 2]
    parent, helper = loads(hunts, sample, shares)
    assert max(parent, helper) < alternating(hunts, sample)


def test_the_sample_reads_the_head_of_each_file_and_weighs_it_by_size(tmp_path: Path) -> None:
    """Categories of each file's first lines, each standing for its share of the file; gzip read
    through the opener; a JSON array file, an unreadable one and bad lines give nothing."""
    process = orjson.dumps({"event": {"category": ["process"]}, "@timestamp": "2026-11-20T10:00:00Z"})
    network = orjson.dumps({"_source": {"event.category": "network"}, "_id": "1", "_index": "i"})
    (tmp_path / "a.ndjson").write_bytes(b"\n".join([process] * 300) + b"\n")
    with gzip.open(tmp_path / "b.ndjson.gz", "wb") as handle:
        handle.write(b"\n".join([network, b"not json"] * 50) + b"\n")
    (tmp_path / "c.json").write_bytes(b"[" + process + b"]")
    files = [tmp_path / "a.ndjson", tmp_path / "b.ndjson.gz", tmp_path / "c.json", tmp_path / "gone.ndjson"]
    sample = sample_categories(files, _open, lines=400)
    held = [categories for categories, _weight in sample]
    assert held.count(PROCESS) == 100 and held.count(NETWORK) == 50 and len(held) == 150
    weights = {categories: weight for categories, weight in sample}
    assert weights[PROCESS] == 3.0  # 100 of the file's 300 lines read
    assert weights[NETWORK] >= 1.0
    damaged = bytearray(gzip.compress(b"\n".join([process] * 2_000)))
    damaged[40:60] = bytes(20)  # the deflate stream broken near its start
    (tmp_path / "d.ndjson.gz").write_bytes(bytes(damaged))
    assert sample_categories([tmp_path / "d.ndjson.gz"], _open) == []
    many = [tmp_path / f"m{number}.ndjson" for number in range(200)]
    for number, path in enumerate(many):
        path.write_bytes((process if number % 2 else network) + b"\n")
    assert len(sample_categories(many, _open)) == 64  # a file in three or so, spread over the list
