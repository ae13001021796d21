"""The EQL syntax tree: frozen dataclasses, each carrying the line and column it came from."""

from __future__ import annotations

from dataclasses import dataclass, field, is_dataclass
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Pos:
    """A 1-based line and column in the query text."""

    line: int = 0
    column: int = 0


NO_POS = Pos()

_CHILD_SLOTS: dict[type, tuple[str, ...]] = {}


def child_slots(kind: type) -> tuple[str, ...]:
    """The slots of a syntax-tree node type (or any slotted node, such as the analyser's) that hold
    its parts: every slot but its position; () for a type without slots."""
    found = _CHILD_SLOTS.get(kind)
    if found is None:
        names: tuple[str, ...] = getattr(kind, "__slots__", ())
        found = _CHILD_SLOTS[kind] = tuple(name for name in names if name != "pos")
    return found


Scalar: TypeAlias = bool | int | float | str | None


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: null, boolean, integer, decimal or string."""

    value: Scalar
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class Field:
    """A field reference such as ``process.name``; ``optional`` for ``?field``."""

    path: tuple[str, ...]
    optional: bool = False
    pos: Pos = field(default=NO_POS, compare=False)

    @property
    def name(self) -> str:
        """The dotted field name."""
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """A function call; ``insensitive`` when written with a trailing ``~``."""

    name: str
    args: tuple[Expr, ...]
    insensitive: bool = False
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    """Logical negation."""

    expr: Expr
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """Logical conjunction."""

    left: Expr
    right: Expr
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    """Logical disjunction."""

    left: Expr
    right: Expr
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class Comparison:
    """``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (all case-sensitive)."""

    op: str
    left: Expr
    right: Expr
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class InList:
    """``x in (...)``, ``x not in (...)`` and their case-insensitive ``in~`` forms."""

    value: Expr
    items: tuple[Expr, ...]
    insensitive: bool = False
    negated: bool = False
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class Match:
    """``:``, ``like``, ``like~``, ``regex``, ``regex~`` against one or more string constants."""

    value: Expr
    kind: str  # "wildcard" or "regex"
    patterns: tuple[str, ...]
    insensitive: bool
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """``+``, ``-``, ``*``, ``/``, ``%``."""

    op: str
    left: Expr
    right: Expr
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class Negate:
    """Unary minus."""

    expr: Expr
    pos: Pos = field(default=NO_POS, compare=False)


Expr: TypeAlias = (
    Literal | Field | FunctionCall | Not | And | Or | Comparison | InList | Match | Arithmetic | Negate
)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """``category where condition``; ``category`` is None for ``any``."""

    category: str | None
    condition: Expr
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class Term:
    """One bracketed stage of a sequence or sample, with its own ``by`` keys."""

    filter: EventFilter
    keys: tuple[Expr, ...] = ()
    runs: int = 1
    missing: bool = False
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A single-event query."""

    filter: EventFilter
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class SequenceQuery:
    """``sequence [by keys] [with maxspan=...] [..] [..] ... [until [..]]``."""

    keys: tuple[Expr, ...]
    maxspan_ns: int | None
    terms: tuple[Term, ...]
    until: Term | None = None
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class SampleQuery:
    """``sample [by keys] [..] [..] ...``."""

    keys: tuple[Expr, ...]
    terms: tuple[Term, ...]
    pos: Pos = field(default=NO_POS, compare=False)


Query: TypeAlias = EventQuery | SequenceQuery | SampleQuery


@dataclass(frozen=True, slots=True)
class Pipe:
    """``| head N`` or ``| tail N``."""

    kind: str
    count: int
    pos: Pos = field(default=NO_POS, compare=False)


@dataclass(frozen=True, slots=True)
class Statement:
    """A whole EQL statement: a query and its pipes."""

    query: Query
    pipes: tuple[Pipe, ...] = ()


def _reduce(node: object) -> tuple[type, tuple[object, ...]]:
    """A node pickled as its class and its fields in order (a syntax tree is kept pickled in the code
    cache; the dataclass default walks ``dataclasses.fields`` for every node, several times slower)."""
    return node.__class__, tuple([getattr(node, name) for name in node.__slots__])  # type: ignore[attr-defined]


for _kind in [kind for kind in globals().values() if isinstance(kind, type) and kind.__module__ == __name__]:
    if is_dataclass(_kind):
        _kind.__reduce__ = _reduce  # type: ignore[assignment,method-assign]
