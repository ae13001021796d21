"""hunter's embedded EQL engine: Elasticsearch's EQL semantics over JSON events, with no cluster.

``compile_query(text)`` parses and checks a query (errors carry line and column);
``CompiledQuery.search(events, ...)`` returns what Elasticsearch's EQL search API would return
in ``hits``. This package imports nothing else from hunter.
"""

from .collector import freeze_held, paused_collector
from .dispatch import Dispatcher, search_many
from .errors import EqlError, EqlSemanticError, EqlSyntaxError, UnsortedInputError
from .prefilter import LinePrefilter
from .query import CompiledQuery, FieldUse, compile_query
from .runs import MISSING_EVENT, Run
from .schema import FieldInfo, Schema, multi_fields_of
from .values import format_date_ns, parse_date_ns

__all__ = [
    "MISSING_EVENT",
    "CompiledQuery",
    "Dispatcher",
    "EqlError",
    "EqlSemanticError",
    "EqlSyntaxError",
    "FieldInfo",
    "FieldUse",
    "LinePrefilter",
    "Run",
    "Schema",
    "UnsortedInputError",
    "compile_query",
    "format_date_ns",
    "freeze_held",
    "multi_fields_of",
    "parse_date_ns",
    "paused_collector",
    "search_many",
]
