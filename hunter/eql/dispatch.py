"""Route each event only to the queries that could use it, by the literals their stages need.

With a library of a thousand rules, nearly every rule rejects nearly every event, and testing each
one costs a call. The :class:`Dispatcher` indexes every stage of every run by its needs
(:mod:`.gates`) in two levels:

* *coarse* fields (chosen from the gates: those that most stages constrain to a few values, as
  ``event.category``, ``host.os.type`` and ``event.type``) split the stages by the values an event
  has there; the event's coarse values are one dictionary look-up away from the stages they admit;
* among those, each stage is filed under the keys of its most selective other need (a process
  name, a path prefix or suffix, a substring); an event is looked up by the values it has in those
  fields (a substring is looked for in them, up to MAX_INFIXES of them per field).

Which need a stage is filed under is first guessed (few, exact, long keys, not on a common field),
then chosen from the data: the first events are checked against every need a stage could be filed
under, and each stage is filed under the need the fewest of them met (a rule on browser names is
filed under ``process.name``, not under ``event.action in ("exec", "start")``).

A stage with no usable need is tested for every event its coarse values admit. The dispatcher only
narrows: a run it names still tests the event itself, so results are those of feeding every event
to every run.

A dispatcher files *targets* (:meth:`.Run.targets`): a streamed sequence is
filed twice, under its opening stages and under the others, so an event meeting only a later
stage's needs costs it nothing while no sequence is under way.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .codecache import compiled
from .collector import paused_collector
from .fields import InlineReads, dotted_keys, strings
from .gates import EXACT_MODES, Gate, Need, cost
from .runs import Accept, Run, source_of

Getter = Callable[[Mapping[str, Any]], Any]
RouteRuns = Callable[[Mapping[str, Any], bool], set[int] | frozenset[int]]  # (document, dotted keys)
_T = TypeVar("_T")

LENGTHS = (3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # prefix and suffix keys are cut to one of these
MAX_COARSE = 3
COARSE_SHARE = 0.1  # a coarse field is constrained by at least this share of all stages
COARSE_VALUES = 64  # ... to at most this many distinct values across them
CACHE_LIMIT = 4_096  # distinct coarse signatures remembered
LEARN_EVENTS = 500  # events whose values choose the need each stage is filed under
MAX_INFIXES = 16  # substring keys of one field tested one by one, at most
COMMON_WEIGHT = 10.0  # a need on a coarse-like field narrows about this much less than another
MEMO_LIMIT = 1_024  # strings of one field of one route whose runs are remembered
MEMO_LENGTH = 256  # ... each of at most this many characters


@dataclass(slots=True)
class _Stage:
    """One stage of one run: its needs on coarse fields, the need it is filed under, and the needs it
    could be filed under instead (each lets through only events a match needs)."""

    run: int
    coarse: list[Need]
    filed: Need | None
    routable: list[Need] = field(default_factory=list)


@dataclass(slots=True)
class _FieldIndex:
    """Runs by the keys of one field (``path``): exact and lowercased values, prefixes and suffixes
    by length, substrings (each tested in turn: a field with more than MAX_INFIXES of them has its
    substring keys ask only for a value)."""

    path: tuple[str, ...]
    eq: dict[str, set[int]] = field(default_factory=dict)
    lower: dict[str, set[int]] = field(default_factory=dict)
    prefix: dict[int, dict[str, set[int]]] = field(default_factory=dict)
    lprefix: dict[int, dict[str, set[int]]] = field(default_factory=dict)
    suffix: dict[int, dict[str, set[int]]] = field(default_factory=dict)
    lsuffix: dict[int, dict[str, set[int]]] = field(default_factory=dict)
    infix: dict[str, set[int]] = field(default_factory=dict)
    linfix: dict[str, set[int]] = field(default_factory=dict)
    present: set[int] = field(default_factory=set)
    # (length, keys cut to it, lowercased, from the start): every prefix and suffix table, flat
    cuts: list[tuple[int, dict[str, set[int]], bool, bool]] = field(default_factory=list)
    lowers: bool = False  # whether any key is lowercased

    def add(self, mode: str, text: str, run: int) -> None:
        """File ``run`` under one key of this field."""
        if mode == "present":
            self.present.add(run)
            return
        if mode in ("infix", "linfix"):
            table = self.infix if mode == "infix" else self.linfix
            table.setdefault(text, set()).add(run)
            return
        if mode in EXACT_MODES:
            table = self.eq if mode == "eq" else self.lower
            table.setdefault(text, set()).add(run)
            return
        length = max(size for size in LENGTHS if size <= len(text))
        by_length: dict[int, dict[str, set[int]]] = getattr(self, mode)
        cut = text[:length] if mode.endswith("prefix") else text[-length:]
        by_length.setdefault(length, {}).setdefault(cut, set()).add(run)

    def seal(self) -> _FieldIndex:
        """Prepare the flat tables the generated lookup reads (after the last :meth:`add`)."""
        if len(self.infix) + len(self.linfix) > MAX_INFIXES:  # too many to test each: a value will do
            for table in (self.infix, self.linfix):
                for runs in table.values():
                    self.present |= runs
                table.clear()
        self.cuts = [
            (length, cuts, low, head)
            for tables, low, head in (
                (self.prefix, False, True),
                (self.lprefix, True, True),
                (self.suffix, False, False),
                (self.lsuffix, True, False),
            )
            for length, cuts in sorted(tables.items())
        ]
        self.lowers = (
            bool(self.lower) or bool(self.linfix) or any(low for _length, _cuts, low, _head in self.cuts)
        )
        return self


def _field_indices(filings: Iterable[tuple[Need, int]]) -> list[_FieldIndex]:
    """The sealed index of each field the needs name, each need's keys filed under its number."""
    indices: dict[str, _FieldIndex] = {}
    for need, number in filings:
        # in order: the generated code is the same from run to run (a set's order follows the
        # strings' hashes, which differ), so the compiled code kept on disk is found again
        for name, mode, text in sorted(need):
            index = indices.get(name)
            if index is None:
                index = indices[name] = _FieldIndex(tuple(name.split(".")))
            index.add(mode, text, number)
    return [index.seal() for index in indices.values()]


class _Route:
    """The runs for one combination of coarse values: always tested, and filed by key.

    ``runs`` is generated code: each field read once, its tables looked up inline (no call per
    field, no loop over tables), the common case of a single string value without a loop.
    """

    __slots__ = ("always", "fields", "runs")

    def __init__(self, always: set[int], fields: list[_FieldIndex]) -> None:
        self.always = frozenset(always)
        self.fields = fields
        self.runs: RouteRuns = _route_code(self.always, fields)


def _route_code(always: frozenset[int], fields: list[_FieldIndex], *, compact: bool = False) -> RouteRuns:
    """A function returning the runs ``always`` and those filed under the values ``doc`` has (``dk``:
    :func:`.fields.dotted_keys` of ``doc``, which the signature found);
    ``compact``: each field's tests written once, in a loop over its values, and no memo (half the
    code to compile, a little slower to run: for the learning probe, run over the first events only).

    The runs filed under one string of one field are the same each time it comes, and most values
    come again and again (process names, executables, actions): each field remembers, for up to
    MEMO_LIMIT strings of at most MEMO_LENGTH characters, the runs its tables give it (:class:`_Memo`)."""
    if not fields:
        return lambda doc, dk: always
    namespace: dict[str, Any] = {"_strings": strings, "_always": always}
    lines = ["def runs(doc, dk):", "    found = set(_always)"]
    keys: list[str] = []  # a function per field giving the runs its tables file a string under
    reads = InlineReads(namespace, dotted="dk")  # each object under a top-level key looked up once
    by_root: dict[str, list[tuple[int, _FieldIndex]]] = {}
    for number, index in enumerate(fields):
        by_root.setdefault(index.path[0], []).append((number, index))
    for head, group in by_root.items():
        # the fields under one top-level key in a block: an event without it skips them at once
        root, condition = reads.root(head, any(len(index.path) > 1 for _number, index in group))
        lines += [*root, f"    if {condition}:"]
        for number, index in group:
            lines += reads.read(index.path, "v", "        ")
            lines += [f"        {line}" for line in _field_tests(index, number, namespace, keys, compact)]
    lines.append("    return found")
    exec(compiled("\n".join(keys + lines), "<dispatch route>"), namespace)  # noqa: S102
    for number in range(len(fields)):
        if f"keys{number}" in namespace:
            memo = _Memo(namespace[f"keys{number}"])
            namespace[f"m{number}"], namespace[f"k{number}"] = memo.known, memo.look
    runs: RouteRuns = namespace["runs"]
    return runs


def _field_tests(
    index: _FieldIndex, number: int, namespace: dict[str, Any], keys: list[str], compact: bool
) -> list[str]:
    """Statements adding to ``found`` the runs filed under the value ``v`` of ``index``'s field (its
    memo's function written into ``keys``)."""
    lines = ["if v is not None:"]
    if index.present:
        namespace[f"p{number}"] = frozenset(index.present)
        lines.append(f"    found |= p{number}")
    tests = _value_tests(index, number, namespace)
    if tests and compact:
        lines.append("    for x in ((v,) if v.__class__ is str else _strings(v)):")
        lines += [f"        {line}" for line in tests]
    elif tests:
        keys += [f"def keys{number}(x):", "    found = set()", *(f"    {line}" for line in tests)]
        keys.append("    return found")
        look = [f"h = m{number}.get(x)", "if h is None:", f"    h = k{number}(x)", "if h: found |= h"]
        lines += ["    if v.__class__ is str:", "        x = v"]
        lines += [f"        {line}" for line in look]
        lines += ["    else:", "        for x in _strings(v):"]
        lines += [f"            {line}" for line in look]
    return lines


class _Memo:
    """The runs one field's tables file a string under, remembered: ``known`` is read inline by the
    route, ``look`` finds (and remembers) what it does not hold. Emptied when full; long strings
    (command lines, paths: seldom the same twice, and costly to hold) are not kept. Equal answers
    are one object."""

    __slots__ = ("answers", "keys", "known")

    def __init__(self, keys: Callable[[str], frozenset[int] | set[int]]) -> None:
        self.keys = keys
        self.known: dict[str, frozenset[int]] = {}
        self.answers: dict[frozenset[int], frozenset[int]] = {}

    def look(self, text: str) -> frozenset[int]:
        found = frozenset(self.keys(text))
        if len(self.answers) >= MEMO_LIMIT:  # bounded too, though a field's answers are seldom many
            self.answers.clear()
        found = self.answers.setdefault(found, found)
        if len(text) <= MEMO_LENGTH:
            if len(self.known) >= MEMO_LIMIT:
                self.known.clear()
            self.known[text] = found
        return found


def _value_tests(index: _FieldIndex, number: int, namespace: dict[str, Any]) -> list[str]:
    """Statements adding to ``found`` the runs filed under the string ``x`` in ``index``'s tables."""
    lines: list[str] = []

    def look(table: dict[str, set[int]], name: str, key: str) -> None:
        namespace[name] = table
        lines.extend([f"h = {name}.get({key})", "if h: found |= h"])

    if index.eq:
        look(index.eq, f"e{number}", "x")
    if index.lowers:
        lines.append("l = x.lower()")
    if index.lower:
        look(index.lower, f"q{number}", "l")
    for cut, (length, keys, low, head) in enumerate(index.cuts):
        text = "l" if low else "x"
        lines.append(f"if len({text}) >= {length}:")
        namespace[f"c{number}_{cut}"] = keys
        part = f"{text}[:{length}]" if head else f"{text}[-{length}:]"
        lines.extend([f"    h = c{number}_{cut}.get({part})", "    if h: found |= h"])
    for kind, table, text in (("i", index.infix, "x"), ("j", index.linfix, "l")):
        for count, (key, runs) in enumerate(table.items()):
            namespace[f"{kind}{number}_{count}"] = frozenset(runs)
            lines.extend([f"if {key!r} in {text}:", f"    found |= {kind}{number}_{count}"])
    return lines


class Dispatcher:
    """Names, for each event, the targets (by position: a run's, when it has one) whose gates it may pass."""

    @classmethod
    def for_runs(cls, runs: Sequence[Run], *, learn: int = LEARN_EVENTS) -> Dispatcher:
        """A dispatcher for ``runs``, whose ``or`` choices avoid the fields most stages constrain;
        the first ``learn`` events choose the need each stage is filed under.

        It names *targets* (:meth:`.Run.targets`: a run may be filed under several gates, each with
        its own function); ``accepts`` and ``owners`` give each target's function and run. A run
        with one target (all but streamed sequences) is named by its own position."""
        first = [run.gate() for run in runs]
        common = set(common_fields([needs for gate in first if gate for needs in gate]))
        weight = (lambda name: COMMON_WEIGHT if name in common else 1.0) if common else None
        gates: list[Gate | None] = []
        accepts: list[Accept] = []
        owners: list[int] = []
        for number, run in enumerate(runs):
            for gate, accept in run.targets(weight):
                gates.append(gate)
                accepts.append(accept)
                owners.append(number)
        dispatcher = cls(gates, learn=learn)
        dispatcher.accepts, dispatcher.owners = accepts, owners
        return dispatcher

    def __init__(self, gates: Sequence[Gate | None], *, learn: int = LEARN_EVENTS) -> None:
        self.size = len(gates)
        self.accepts: list[Accept] = []  # by target, when built by :meth:`for_runs`
        self.owners: list[int] = list(range(self.size))  # the run of each target
        self.unrouted = frozenset(run for run, gate in enumerate(gates) if gate is None or not gate)
        stages = [
            (run, needs) for run, gate in enumerate(gates) if gate is not None and gate for needs in gate
        ]
        fields = common_fields([needs for _run, needs in stages])
        self.coarse = tuple(fields[:MAX_COARSE])  # the few most stages constrain to exact values
        self._signature = _signature_code(self.coarse)
        common = set(fields)

        def weighted(need: Need) -> float:
            return cost(need, lambda name: COMMON_WEIGHT if name in common else 1.0)

        self._weighted = weighted
        self._stages: list[_Stage] = []
        for run, needs in stages:
            coarse = [need for need in needs if _field_of(need) in self.coarse and _exact(need)]
            routable = [need for need in needs if need not in coarse]
            filed = min(routable, key=weighted) if routable else None
            self._stages.append(_Stage(run, coarse, filed, routable))
        self._routes: dict[tuple[Any, ...], _Route] = {}
        # The static choice of need guesses how often values occur; the first events tell. Every need
        # a stage could be filed under is counted over them, then each stage is filed under its rarest.
        self._choices = [
            (stage, need) for stage in self._stages if len(stage.routable) > 1 for need in stage.routable
        ]
        self._learning = learn if self._choices else 0
        self._seen = [0] * len(self._choices)
        # the numbers of the choices an event meets, looked up as a route looks up its runs
        self._probe: RouteRuns | None = (
            _route_code(
                frozenset(),
                _field_indices((need, n) for n, (_s, need) in enumerate(self._choices)),
                compact=True,
            )
            if self._learning
            else None
        )

    def runs(self, source: Mapping[str, Any]) -> set[int] | frozenset[int]:
        """Positions of the targets that may use the event ``source`` (the others surely reject it)."""
        if self._learning:
            self._learn(source)
        signature, dotted = self._signature(source)
        route = self._routes.get(signature)
        if route is None:
            route = self._route(signature)
        return route.runs(source, dotted)

    def learn_ahead(self, items: Iterable[_T], source_of: Callable[[_T], Mapping[str, Any]]) -> Iterator[_T]:
        """``items`` again, the first of them (as many as there are events to learn from) read ahead
        and learnt from at once: no route is made (compiled) for the learning alone, to be made again
        after it. Fewer items than that: the choice is made from those there are."""
        iterator = iter(items)
        if not self._learning:
            return iterator
        first = list(itertools.islice(iterator, self._learning))
        for item in first:
            self._learn(source_of(item))
        if self._learning and first:
            self._learning = 0
            self._refile()
        return itertools.chain(first, iterator)

    def _learn(self, source: Mapping[str, Any]) -> None:
        """Count the needs ``source`` meets; after the last event to learn from, file each stage
        under the need the fewest events met (ties: the static choice) and forget the routes."""
        assert self._probe is not None
        met = self._probe(source, dotted_keys(source))
        seen = self._seen
        for number in met:
            seen[number] += 1
        self._learning -= 1
        if not self._learning:
            self._refile()

    def _refile(self) -> None:
        """File each stage under the need the fewest events learnt from met; forget the routes."""
        seen = self._seen
        counts: dict[tuple[int, Need], int] = {}
        for number, (stage, need) in enumerate(self._choices):
            counts[id(stage), need] = seen[number]
        for stage in self._stages:
            if len(stage.routable) > 1:
                stage.filed = min(
                    stage.routable, key=lambda need: (counts[id(stage), need], self._weighted(need))
                )
        self._routes.clear()
        self._probe = None

    def _route(self, signature: tuple[Any, ...]) -> _Route:
        values = {
            name: value if isinstance(value, tuple) else (() if value is None else (value,))
            for name, value in zip(self.coarse, signature, strict=True)
        }
        always = set(self.unrouted)
        filings: list[tuple[Need, int]] = []
        for stage in self._stages:
            if not all(_admits(need, values) for need in stage.coarse):
                continue
            if stage.filed is None:
                always.add(stage.run)
            else:
                filings.append((stage.filed, stage.run))
        route = _Route(always, _field_indices(filings))
        if len(self._routes) >= CACHE_LIMIT:
            self._routes.clear()
        self._routes[signature] = route
        return route

    def summary(self) -> dict[str, Any]:
        """What the dispatcher made of the gates: coarse fields, stages filed, stages always tested."""
        filed = sum(1 for stage in self._stages if stage.filed is not None)
        return {
            "runs": self.size,
            "unrouted_runs": len(self.unrouted),
            "coarse": list(self.coarse),
            "stages": len(self._stages),
            "filed": filed,
        }


def _field_of(need: Need) -> str | None:
    names = {name for name, _mode, _text in need}
    return names.pop() if len(names) == 1 else None


def _exact(need: Need) -> bool:
    return all(mode in EXACT_MODES for _field, mode, _text in need)


def common_fields(stages: list[list[Need]]) -> list[str]:
    """Fields many stages constrain to exact values, each to few values over all stages; most used first."""
    if not stages:
        return []
    users: Counter[str] = Counter()
    texts: dict[str, set[str]] = {}
    for needs in stages:
        seen: set[str] = set()
        for need in needs:
            name = _field_of(need)
            if name is None or not _exact(need):
                continue
            seen.add(name)
            texts.setdefault(name, set()).update(text for _f, _m, text in need)
        users.update(seen)
    return [
        name
        for name, count in users.most_common()
        if count >= COARSE_SHARE * len(stages) and len(texts[name]) <= COARSE_VALUES
    ]


def _signature_code(coarse: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[tuple[Any, ...], bool]]:
    """A function returning an event's values of the ``coarse`` fields (:func:`_signature_value`
    of each), the fields read inline, and whether the event has a dotted top-level key (found once
    for the signature and the route)."""
    namespace: dict[str, Any] = {"_signature_value": _signature_value, "_dotted_keys": dotted_keys}
    lines = ["def signature(doc):", "    dk = _dotted_keys(doc)"]
    reads = InlineReads(namespace, dotted="dk")
    for number, name in enumerate(coarse):
        lines += reads.read(tuple(name.split(".")), f"v{number}")
        lines.append(f"    if v{number} is not None and v{number}.__class__ is not str:")
        lines.append(f"        v{number} = _signature_value(v{number})")
    lines.append(f"    return ({''.join(f'v{number}, ' for number in range(len(coarse)))}), dk")
    exec(compiled("\n".join(lines), "<dispatch signature>"), namespace)  # noqa: S102
    signature: Callable[[Mapping[str, Any]], tuple[tuple[Any, ...], bool]] = namespace["signature"]
    return signature


def _signature_value(raw: Any) -> Any:
    if raw is None or raw.__class__ is str:
        return raw
    return tuple(strings(raw))


def _admits(need: Need, values: dict[str, tuple[str, ...]]) -> bool:
    for name, mode, text in need:
        for value in values.get(name, ()):
            if (value if mode == "eq" else value.lower()) == text:
                return True
    return False


def search_many(
    runs: Sequence[Run], events: Iterable[Mapping[str, Any]], *, learn: int = LEARN_EVENTS
) -> list[dict[str, Any]]:
    """Feed one pass over ``events`` to several runs (from ``CompiledQuery.run``), each event only
    to the runs the :class:`Dispatcher` names for it (which learns from the first ``learn``
    events); the results are each run's own."""
    with paused_collector():
        if len(runs) == 1:
            runs[0].consume(events)
        elif runs:
            dispatcher = Dispatcher.for_runs(runs, learn=learn)
            targets_of, accepts = dispatcher.runs, dispatcher.accepts
            for position, item in enumerate(dispatcher.learn_ahead(events, source_of)):
                source = source_of(item)
                for target in targets_of(source):
                    accepts[target](position, item, source)
        return [run.finish() for run in runs]
