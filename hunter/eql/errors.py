"""Errors of the embedded EQL engine, located by line and column like Elasticsearch's.

::

    EqlError                 anything wrong with a query
    ├── EqlSyntaxError       the text does not parse
    └── EqlSemanticError     it parses but cannot run (unknown function, bad arguments, ...)
"""

from __future__ import annotations


class EqlError(Exception):
    """A query that cannot be compiled; ``line`` and ``column`` are 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        self.message = message
        self.line = line
        self.column = column
        where = f"line {line}:{column}: " if line else ""
        super().__init__(f"{where}{message}")


class EqlSyntaxError(EqlError):
    """The query text does not follow the EQL grammar."""


class EqlSemanticError(EqlError):
    """The query parses but is not valid (Elasticsearch's verification_exception)."""


class UnsortedInputError(ValueError):
    """``search(..., presorted=True)`` met an event older than one before it."""
