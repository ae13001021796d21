"""The assertions of Elasticsearch's YAML runner: ``match``, ``length``, ``is_true`` and the rest.

Each follows its Java class in ``test/yaml-rest-runner`` (``MatchAssertion``, ``IsTrueAssertion``...):
a ``/.../`` expected string is a regular expression searched in the actual text with
``Pattern.COMMENTS`` (whitespace in the pattern is ignored); numbers of different kinds compare by
value; truth is judged on the Java text of the value (``""``, ``false``, ``0`` and null are false).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .stash import Stash, java_string, response_value


class CheckFailedError(AssertionError):
    """An assertion of the section did not hold."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same(actual: Any, expected: Any) -> bool:
    """Deep equality as the Java matchers see it: numbers by value, never a boolean for a number."""
    if _is_number(actual) and _is_number(expected):
        return float(actual) == float(expected)
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same(actual[k], expected[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return bool(type(actual) is type(expected) and actual == expected)


def _regex(expected: Any) -> str | None:
    if isinstance(expected, str):
        text = expected.strip()
        if len(text) > 2 and text.startswith("/") and text.endswith("/"):
            return text[1:-1]
    return None


def check_match(field: str, actual: Any, expected: Any) -> None:
    """``match``: regex, null, or (deep) equality."""
    pattern = _regex(expected)
    if pattern is not None:
        if not isinstance(actual, str):
            raise CheckFailedError(f"field [{field}] was expected to be a string but is {actual!r}")
        if re.search(pattern, actual, re.VERBOSE) is None:
            raise CheckFailedError(f"field [{field}] = {actual!r} does not match /{pattern}/")
        return
    if expected is None:
        if actual is not None:
            raise CheckFailedError(f"field [{field}] should be null but was {actual!r}")
        return
    if actual is None:
        raise CheckFailedError(f"field [{field}] is null, expected {expected!r}")
    if not same(actual, expected):
        raise CheckFailedError(f"field [{field}] = {actual!r}, expected {expected!r}")


def _truthy(actual: Any) -> bool:
    if actual is None:
        return False
    text = java_string(actual)
    return text not in ("", "0") and text.lower() != "false"


def _compare(op: str) -> Callable[[str, Any, Any], None]:
    tests: dict[str, Callable[[Any, Any], bool]] = {
        "gt": lambda a, e: a > e,
        "gte": lambda a, e: a >= e,
        "lt": lambda a, e: a < e,
        "lte": lambda a, e: a <= e,
    }

    def check(field: str, actual: Any, expected: Any) -> None:
        if actual is None:
            raise CheckFailedError(f"field [{field}] is null")
        if _is_number(actual) != _is_number(expected):
            raise CheckFailedError(f"field [{field}] = {actual!r} cannot be compared with {expected!r}")
        if not tests[op](actual, expected):
            raise CheckFailedError(f"field [{field}] = {actual!r} is not {op} {expected!r}")

    return check


def check_length(field: str, actual: Any, expected: Any) -> None:
    """``length`` of a string, list or map."""
    if not isinstance(actual, str | list | dict):
        raise CheckFailedError(f"field [{field}] = {actual!r} has no length")
    if len(actual) != int(expected):
        raise CheckFailedError(f"field [{field}] has length {len(actual)}, expected {expected}")


def check_contains(field: str, actual: Any, expected: Any) -> None:
    """``contains``: an object in a list of objects, or a substring."""
    if isinstance(expected, dict) and isinstance(actual, list):
        candidates = [item for item in actual if isinstance(item, dict)]
        if not any(all(k in item and same(item[k], v) for k, v in expected.items()) for item in candidates):
            raise CheckFailedError(f"field [{field}] = {actual!r} holds no object matching {expected!r}")
    elif isinstance(expected, str) and isinstance(actual, str):
        if expected not in actual:
            raise CheckFailedError(f"field [{field}] = {actual!r} does not contain {expected!r}")
    else:
        raise CheckFailedError(
            "'contains' only checks an object against a list of objects or a string against a string"
        )


def check_close_to(field: str, actual: Any, expected: Any) -> None:
    """``close_to: {field: {value: v, error: e}}``."""
    if not _is_number(actual):
        raise CheckFailedError(f"field [{field}] = {actual!r} is not a number")
    if abs(float(actual) - float(expected["value"])) > float(expected["error"]):
        raise CheckFailedError(
            f"field [{field}] = {actual!r} is not within {expected['error']} of {expected['value']}"
        )


ASSERTIONS = frozenset({"match", "length", "is_true", "is_false", "gt", "gte", "lt", "lte"}) | frozenset(
    {"contains", "close_to", "exists", "not_exists"}
)


def run_assertion(kind: str, spec: Any, body: Any, stash: Stash) -> None:
    """Run one assertion step against the last response ``body``."""
    if kind in ("is_true", "is_false", "exists", "not_exists"):
        field = str(spec)
        actual = _actual(field, body, stash)
        if kind == "is_true" and not _truthy(actual):
            raise CheckFailedError(f"field [{field}] = {actual!r} does not have a true value")
        if kind == "is_false" and _truthy(actual):
            raise CheckFailedError(f"field [{field}] = {actual!r} has a true value")
        if kind == "exists" and actual is None:
            raise CheckFailedError(f"field [{field}] does not exist")
        if kind == "not_exists" and actual is not None:
            raise CheckFailedError(f"field [{field}] exists: {actual!r}")
        return
    if not isinstance(spec, dict) or len(spec) != 1:
        raise CheckFailedError(f"malformed {kind} assertion {spec!r}")
    ((field, expected),) = spec.items()
    actual = _actual(field, body, stash)
    if isinstance(expected, dict):
        expected = stash.replace(expected)
    elif stash.is_stashed(expected):
        expected = stash.get(expected)
    checks: dict[str, Callable[[str, Any, Any], None]] = {
        "match": check_match,
        "length": check_length,
        "contains": check_contains,
        "close_to": check_close_to,
        "gt": _compare("gt"),
        "gte": _compare("gte"),
        "lt": _compare("lt"),
        "lte": _compare("lte"),
    }
    checks[kind](field, actual, expected)


def _actual(field: str, body: Any, stash: Stash) -> Any:
    if stash.is_stashed(field) and field != "$body":
        return stash.get(field)
    return response_value(body, field, stash)
