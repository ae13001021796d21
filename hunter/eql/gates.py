"""What an event must carry for a query to look at it: the literal conjuncts of each stage.

A stage's condition (category and where-clause, as analysed) implies *needs*: sets of keys of which
every matching event carries at least one. A key is ``(field, mode, text)``:

* ``eq``: a string value of the field equals ``text`` (``==``, ``in``, ``like`` without wildcards,
  the stage's category);
* ``lower``: a value, lowercased with :meth:`str.lower` as the matchers do, equals ``text``
  (``:``, ``in~``, ``like~``);
* ``prefix``/``suffix`` (``lprefix``/``lsuffix`` lowercased): a value starts or ends with ``text``
  (wildcard patterns, ``startsWith``);
* ``infix``/``linfix``: a value contains ``text`` (``*text*``);
* ``present``: the field has a value (regexes, ranges, ``!= null``, equality with a number).

Only pushed-down tests on dynamic fields (values read as they come, no mapping) give keys: there a
string literal never equals a number or a boolean, so the keys are exact. ``and`` keeps the needs of
every part; ``or`` gives one need (the union of one need of each part) only when every part has one;
``not`` and scripts give none. :mod:`.dispatch` routes events by these needs and :mod:`.prefilter`
skips lines that contain none of them; both change no result, which tests/eql/test_dispatch.py checks
over the whole rule library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from . import ast
from .analyzer import IsNull, Node
from .plan import Plan

Key = tuple[str, str, str]  # (field, mode, text)
Need = frozenset[Key]  # a matching event carries at least one of these keys
Gate = list[list[Need]]  # per stage (the until clause last): the needs of that stage
Weight = Callable[[str], float]  # how little a key on a field narrows (1: normal; more: a common field)

EXACT_MODES = frozenset({"eq", "lower"})
MIN_FRAGMENT = 3  # shorter fixed parts of a wildcard pattern say too little to be worth a key
_MODE_COST = {"eq": 1.0, "lower": 1.0, "prefix": 2.0, "lprefix": 2.0, "suffix": 2.0, "lsuffix": 2.0}
_INFIX_COST = 4.0


_PRESENT_COST = 6.0


def plan_gate(plan: Plan, weight: Weight | None = None) -> Gate:
    """The needs of every stage of ``plan`` (stages in order, then ``until``)."""
    walker = _Walker(_dynamic_test(plan), weight or _unit, _own_test(plan), plan.leaf_keys)
    field = plan.category_field
    return [walker.stage(condition, category, field) for condition, category in plan.conditions]


def cost(need: Need, weight: Weight | None = None) -> float:
    """How much a need lets through (lower is better): few, exact and long keys cost least."""
    weight = weight or _unit
    total = 0.0
    for name, mode, text in need:
        base = _PRESENT_COST if mode == "present" else _MODE_COST.get(mode, _INFIX_COST)
        total += (base + 4.0 / (1 + len(text))) * weight(name)
    return total


def _unit(name: str) -> float:
    return 1.0


def _dynamic_test(plan: Plan) -> Callable[[str], bool]:
    compiler = plan.compiler
    return lambda name: compiler.access(name).dynamic


def _own_test(plan: Plan) -> Callable[[str], bool]:
    """Whether a field is read under its own name (:attr:`~.compiler.FieldAccess.own`)."""
    compiler = plan.compiler
    return lambda name: compiler.access(name).own


class _Walker:
    """Collects needs, choosing in each ``or`` the cheapest need of every part under ``weight``."""

    def __init__(
        self,
        dynamic: Callable[[str], bool],
        weight: Weight,
        own: Callable[[str], bool],
        leaves: dict[int, Need | None],
    ) -> None:
        self.dynamic = dynamic
        self.own = own
        self.weight = weight
        self.leaves = leaves  # keys of each leaf by its id (its plan's: the plan holds the nodes)

    def cost(self, need: Need) -> float:
        """The cost of ``need`` under this walker's weight."""
        return cost(need, self.weight)

    def stage(self, condition: Node, category: str | None, category_field: str) -> list[Need]:
        """The needs of one stage: its category (when dynamic) and those of its where-clause."""
        needs: list[Need] = []
        if category is not None and self.dynamic(category_field):
            needs.append(frozenset({(category_field, "eq", category)}))
        needs.extend(self.needs(condition))
        return needs

    def needs(self, node: Node) -> list[Need]:
        """Needs of a where-clause; and/or chains are walked without recursion on their length."""
        if isinstance(node, ast.And):
            found: list[Need] = []
            for part in _chain(node, ast.And):
                found.extend(self.needs(part))
            return found
        if isinstance(node, ast.Or):
            union: set[Key] = set()
            for part in _chain(node, ast.Or):
                options = self.needs(part)
                if not options:
                    return []
                chosen: Need = min(options, key=self.cost)
                union.update(chosen)
            return [frozenset(union)]
        leaves = self.leaves
        if id(node) in leaves:
            keys = leaves[id(node)]
        else:
            keys = leaves[id(node)] = _leaf_keys(node, self.dynamic, self.own)
        return [] if keys is None else [keys]


def _chain(node: Node, kind: type[ast.And] | type[ast.Or]) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, kind):
            stack.append(current.right)
            stack.append(current.left)
        else:
            yield current


def _leaf_keys(node: Node, dynamic: Callable[[str], bool], own: Callable[[str], bool]) -> Need | None:
    if (
        isinstance(node, ast.Comparison)
        and node.op == "=="
        and isinstance(node.left, ast.Field)
        and isinstance(node.right, ast.Literal)
        and isinstance(node.right.value, str)
        and dynamic(node.left.name)
    ):
        return frozenset({(node.left.name, "eq", node.right.value)})
    if (
        isinstance(node, ast.InList)
        and not node.negated
        and isinstance(node.value, ast.Field)
        and node.items
        and all(isinstance(item, ast.Literal) and isinstance(item.value, str) for item in node.items)
        and dynamic(node.value.name)
    ):
        name = node.value.name
        texts = [
            item.value for item in node.items if isinstance(item, ast.Literal) and isinstance(item.value, str)
        ]
        if node.insensitive:
            return frozenset((name, "lower", text.lower()) for text in texts)
        return frozenset((name, "eq", text) for text in texts)
    if (
        isinstance(node, ast.Match)
        and node.kind == "wildcard"
        and isinstance(node.value, ast.Field)
        and node.patterns
        and dynamic(node.value.name)
    ):
        keys: set[Key] = set()
        for pattern in node.patterns:
            key = pattern_key(node.value.name, pattern, node.insensitive)
            if key is None:
                return None
            keys.add(key)
        return frozenset(keys)
    if (
        isinstance(node, ast.Match | ast.Comparison | ast.InList | IsNull)
        and not (isinstance(node, ast.InList) and node.negated)
        and not (isinstance(node, ast.Comparison) and node.op == "!=")
        and not (isinstance(node, IsNull) and not node.negated)
    ):
        subject = (
            node.expr
            if isinstance(node, IsNull)
            else node.left
            if isinstance(node, ast.Comparison)
            else node.value
        )
        if isinstance(subject, ast.Field) and _pushed(node) and own(subject.name):
            return frozenset({(subject.name, "present", "")})
        return None
    if (
        isinstance(node, ast.FunctionCall)
        and node.name == "startsWith"
        and len(node.args) == 2
        and isinstance(node.args[0], ast.Field)
        and isinstance(node.args[1], ast.Literal)
        and isinstance(node.args[1].value, str)
        and len(node.args[1].value) >= MIN_FRAGMENT
        and dynamic(node.args[0].name)
    ):
        text = node.args[1].value
        if node.insensitive:
            return frozenset({(node.args[0].name, "lprefix", text.lower())})
        return frozenset({(node.args[0].name, "prefix", text)})
    return None


def _pushed(node: Node) -> bool:
    """Whether Elasticsearch pushes ``node`` down as a query on its field (any-value matching)."""
    if isinstance(node, IsNull):
        return True
    if isinstance(node, ast.Comparison):
        return isinstance(node.right, ast.Literal) and node.right.value is not None
    if isinstance(node, ast.InList):
        return all(isinstance(item, ast.Literal) and item.value is not None for item in node.items) and bool(
            node.items
        )
    return isinstance(node, ast.Match)


def pattern_key(field: str, pattern: str, insensitive: bool) -> Key | None:
    """The key an EQL wildcard pattern (``*``, ``?``, no escapes) implies, if it implies one."""
    text = pattern.lower() if insensitive else pattern
    low = "l" if insensitive else ""
    if "*" not in text and "?" not in text:
        return (field, "lower" if insensitive else "eq", text)
    fragments = text.replace("?", "*").split("*")
    prefix, suffix = fragments[0], fragments[-1]
    if len(prefix) >= MIN_FRAGMENT and len(prefix) >= len(suffix):
        return (field, low + "prefix", prefix)
    if len(suffix) >= MIN_FRAGMENT:
        return (field, low + "suffix", suffix)
    longest = max(fragments, key=len)
    if len(longest) >= MIN_FRAGMENT:
        return (field, low + "infix", longest)
    return None


def describe(gate: Gate) -> list[Any]:
    """A readable form of a gate (for debugging and tests): per stage, sorted needs."""
    return [sorted(sorted(need) for need in needs) for needs in gate]
