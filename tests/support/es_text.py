"""Text and geo queries, and relevance scores: ``query_string`` (and the ``q`` parameter),
``geo_bounding_box``, and BM25 as Elasticsearch scores it (``LegacyBM25Similarity``: k1 1.2, b 0.75,
the ``k1 + 1`` factor kept) for ``min_score``.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .es_errors import EsError, parsing_error
from .es_fetch import points
from .es_mapping import FLOATS, INTEGERS, TEXTS, analyze, coerce, type_of
from .query_dsl import DocRef, Predicate, field_body, register, terms_of

K1 = 1.2
B = 0.75


@dataclass(frozen=True)
class Clause:
    """One term of a query string: the field it targets (None: the default fields) and its text."""

    field: str | None
    text: str

    @property
    def wildcard(self) -> bool:
        """Does the term use ``*`` or ``?``?"""
        return "*" in self.text or "?" in self.text


def parse_query_string(text: str) -> list[Clause]:
    """The clauses of a simple query string (``a field:b c*``)."""
    clauses: list[Clause] = []
    for token in re.findall(r'(?:[^\s"]+:)?"[^"]*"|\S+', text):
        if token in ("AND", "OR", "&&", "||"):
            continue
        name, sep, value = token.partition(":")
        if sep and value:
            clauses.append(Clause(name, value.strip('"')))
        else:
            clauses.append(Clause(None, token.strip('"')))
    return clauses


class QueryString:
    """A compiled ``query_string`` query: which documents match and how well."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        query = body.get("query")
        if not isinstance(query, str):
            raise parsing_error("[query_string] requires query value")
        self.clauses = parse_query_string(query)
        self.default_fields: list[str] | None = (
            [str(body["default_field"])] if body.get("default_field") else None
        )
        if body.get("fields"):
            self.default_fields = [str(f) for f in body["fields"]]
        self.conjunctive = str(body.get("default_operator", "or")).lower() == "and"
        self.lenient = bool(body.get("lenient", False))

    def _fields(self, clause: Clause, doc: DocRef) -> list[str]:
        if clause.field is not None:
            return [n for n in doc.fields.fields if fnmatch.fnmatchcase(n, clause.field)] or [clause.field]
        chosen = self.default_fields
        if chosen is None:
            setting = doc.fields.default_fields
            chosen = list(setting) if setting else ["*"]
        return [n for n in doc.fields.fields if any(fnmatch.fnmatchcase(n, p) for p in chosen)]

    def clause_matches(self, clause: Clause, doc: DocRef) -> list[tuple[str, str]]:
        """The (field, token) pairs of ``doc`` the clause hits."""
        hits: list[tuple[str, str]] = []
        for name in self._fields(clause, doc):
            spec = doc.fields.spec(name)
            ftype = type_of(spec) if spec else "keyword"
            terms = terms_of(doc, name)
            if clause.wildcard:
                pattern = re.compile(
                    fnmatch.translate(
                        clause.text.lower() if ftype in TEXTS or ftype == "keyword" else clause.text
                    )
                )
                hits += [
                    (name, t)
                    for t in terms
                    if isinstance(t, str) and pattern.match(t.lower() if ftype in TEXTS else t)
                ]
                continue
            if ftype in TEXTS:
                wanted = analyze(clause.text)
                hits += [(name, w) for w in wanted if w in terms]
                continue
            if ftype in INTEGERS or ftype in FLOATS:
                number = coerce(ftype, clause.text)
                if number is None:
                    if self.lenient or clause.field is None:
                        continue
                    raise EsError(
                        400,
                        "query_shard_exception",
                        f'failed to create query: For input string: "{clause.text}"',
                    )
                hits += [(name, clause.text) for t in terms if t == number]
                continue
            hits += [(name, clause.text) for t in terms if str(t) == clause.text]
        return hits

    def matches(self, doc: DocRef) -> bool:
        """Does ``doc`` match (any clause, or every clause under ``default_operator: AND``)?"""
        found = [bool(self.clause_matches(c, doc)) for c in self.clauses]
        return all(found) if self.conjunctive else any(found)


def _query_string(body: Any, now_ns: int) -> Predicate:
    if not isinstance(body, Mapping):
        raise parsing_error("[query_string] query malformed")
    return QueryString(body).matches


def _geo_bounding_box(body: Any, now_ns: int) -> Predicate:
    name, box = field_body("geo_bounding_box", body)
    try:
        top, left = float(box["top_left"]["lat"]), float(box["top_left"]["lon"])
        bottom, right = float(box["bottom_right"]["lat"]), float(box["bottom_right"]["lon"])
    except (KeyError, TypeError, ValueError) as error:
        raise parsing_error("failed to parse [geo_bounding_box] query") from error

    def test(doc: DocRef) -> bool:
        ref = doc.fields.fields.get(name)
        if ref is None:
            return False
        found = points(doc.fields.getter(ref.path)(doc.source))
        return any(bottom <= lat <= top and _within_lon(lon, left, right) for lat, lon in found)

    return test


def _within_lon(lon: float, left: float, right: float) -> bool:
    if left <= right:
        return left <= lon <= right
    return lon >= left or lon <= right  # the box crosses the antimeridian


register("query_string", _query_string)
register("geo_bounding_box", _geo_bounding_box)


def bm25_scores(query: QueryString, docs: Sequence[DocRef]) -> list[float]:
    """The BM25 score of each document for a query string (per index statistics, one shard)."""
    stats: dict[tuple[str, str], tuple[int, float]] = {}
    scores = []
    for doc in docs:
        total = 0.0
        for clause in query.clauses:
            for name, token in query.clause_matches(clause, doc):
                key = (doc.index, name)
                if key not in stats:
                    stats[key] = _field_stats(docs, doc.index, name)
                count, avg = stats[key]
                length = len(terms_of(doc, name)) or 1
                df = sum(1 for other in docs if other.index == doc.index and token in terms_of(other, name))
                idf = math.log(1 + (count - df + 0.5) / (df + 0.5))
                freq = terms_of(doc, name).count(token)
                total += idf * (K1 + 1) * freq / (freq + K1 * (1 - B + B * length / avg))
        scores.append(total)
    return scores


def _field_stats(docs: Sequence[DocRef], index: str, name: str) -> tuple[int, float]:
    lengths = [len(terms_of(d, name)) for d in docs if d.index == index]
    with_field = [n for n in lengths if n]
    return len(lengths), (sum(with_field) / len(with_field)) if with_field else 1.0
