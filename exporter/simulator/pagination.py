"""List queries the way Octavia's PaginationHelper answers them.

Read from ``octavia/api/common/pagination.py``:
- ``limit`` defaults to, and is capped at, ``pagination_max_limit``; ``limit`` < 1 or
  ``infinite`` means no limit; anything else not an integer is a 400 (raised in a pecan hook,
  so webob renders it).
- default order ``created_at`` then ``id``, ascending; ``sort=k1:dir,k2`` or
  ``sort_key``/``sort_dir``; the default keys are appended to any requested ones.
- ``marker`` is looked up by id among all objects of the kind (not found: 400, rendered by
  WSME); the page holds the objects after it in the sort order: the marker's values of the
  sort keys cut the list, earlier keys compared for equality, the first that differs for
  order (id, appended last, breaks ties). With ``page_reverse=True``
  (that exact spelling) it holds the objects *before* the marker, still in forward order, from
  the start of the collection — the SQL filters then limits without reversing.
- links: ``previous`` when a marker was given and the page is not empty; ``next`` whenever
  the page is full (``len >= limit``). Links carry ``limit``, ``sort``/``sort_key`` and
  ``marker`` (+ ``page_reverse=True`` on previous) — but not filters or ``fields``.
- NULLs: ``ORDER BY`` puts them lowest (first ascending, last descending). Past a marker, a
  NULL date column compares as SQL's unknown, so a row whose ``updated_at`` is NULL is never
  on a page after a marker sorted on it; a marker whose own date is NULL cuts at ``''``, a
  date before every other and equal to none (tests/integration/test_feed_contract.py checks
  both on the real API). NULL strings and numbers compare as ``''`` / 0.
- every other query parameter is an equality filter on a top-level attribute (unknown: 400),
  plus ``tags``, ``tags-any``, ``not-tags``, ``not-tags-any`` (comma lists or repeated).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiMapping

AUXILIARY = ("limit", "marker", "sort", "sort_key", "sort_dir", "fields", "page_reverse")
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
DEFAULT_SORT = [("created_at", "asc"), ("id", "asc")]

_TRUE = ("1", "t", "true", "on", "y", "yes")


class QueryError(Exception):
    """A bad list query. ``webob`` says whether Octavia raises it outside WSME."""

    def __init__(self, message: str, webob: bool) -> None:
        super().__init__(message)
        self.message = message
        self.webob = webob


@dataclass
class ListQuery:
    limit: int | None
    marker: str | None = None
    page_reverse: bool = False
    sort_keys: list[tuple[str, str]] = field(default_factory=list)
    # the keys asked for, before the default ones are appended
    asked_keys: list[tuple[str, str]] = field(default_factory=list)
    sort_param: str | None = None
    sort_key_param: str | None = None
    fields: list[str] | None = None
    filters: dict[str, str] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)

    @property
    def default_order(self) -> bool:
        return self.sort_keys == DEFAULT_SORT


def _last(query: MultiMapping[str], name: str) -> str | None:
    values = query.getall(name, [])
    return values[-1] if values else None


def _validate_dir(value: str) -> str:
    lowered = value.lower()
    if lowered not in ("asc", "desc"):
        raise QueryError(f"Supplied sort direction '{lowered}' is not valid.", webob=True)
    return lowered


def parse_query(query: MultiMapping[str], page_cap: int | None) -> ListQuery:
    """Parse what Octavia's pagination hook parses for every GET (limit and sort)."""
    raw_limit = _last(query, "limit")
    limit: int | None
    if raw_limit is None:
        limit = page_cap
    else:
        try:
            if raw_limit == "infinite" or int(raw_limit) < 1:
                limit = None
            elif page_cap is None:
                limit = int(raw_limit)
            else:
                limit = min(int(raw_limit), page_cap)
        except ValueError:
            raise QueryError(
                f"Supplied pagination limit '{raw_limit}' is not valid.", webob=True
            ) from None

    sort_keys: list[tuple[str, str]] = []
    sort = _last(query, "sort")
    sort_key = _last(query, "sort_key")
    if sort:
        for item in sort.split(","):
            comps = item.split(":")
            if len(comps) == 1:
                sort_keys.append((comps[0], "asc"))
            elif len(comps) == 2:
                sort_keys.append((comps[0], _validate_dir(comps[1])))
            else:
                raise QueryError(f"Supplied sort key '{comps}' is not valid.", webob=True)
    elif sort_key:
        keys = sort_key.split(",")
        dirs_raw = _last(query, "sort_dir")
        dirs = dirs_raw.split(",") if dirs_raw else []
        dirs += ["asc"] * (len(keys) - len(dirs))
        for k, d in zip(keys, dirs, strict=False):
            sort_keys.append((k, _validate_dir(d)))
    asked_keys = list(sort_keys)
    present = {k for k, _ in sort_keys}
    for k in ("created_at", "id"):
        if k not in present:
            sort_keys.append((k, "asc"))

    fields: list[str] | None = None
    if "fields" in query:
        # WSME does not split on commas: "fields=id,name" asks for a field named "id,name".
        fields = list(query.getall("fields"))

    filters: dict[str, str] = {}
    tags: dict[str, list[str]] = {}
    for name in query:
        if name in AUXILIARY:
            continue
        if name in TAG_FILTERS:
            tags[name] = [t for v in query.getall(name) for t in v.split(",")]
            continue
        filters[name] = query.getall(name)[-1]

    return ListQuery(
        limit=limit,
        marker=_last(query, "marker"),
        page_reverse=_last(query, "page_reverse") == "True",
        sort_keys=sort_keys,
        asked_keys=asked_keys,
        sort_param=sort,
        sort_key_param=sort_key,
        fields=fields,
        filters=filters,
        tags=tags,
    )


def select_fields(body: dict[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    """Octavia's _filter_fields: drop every attribute not asked for. ``tenant_id`` is a
    property over ``project_id`` and survives only if both are asked for."""
    if fields is None:
        return body
    wanted = set(fields)
    out = {k: v for k, v in body.items() if k in wanted}
    if "tenant_id" in out and "project_id" not in wanted:
        del out["tenant_id"]
    return out


def make_links(path_url: str, q: ListQuery, page_ids: Sequence[str]) -> list[dict[str, str]]:
    links: list[dict[str, str]] = []
    if not page_ids:
        return links
    prev_attr = [f"limit={q.limit}"]
    if q.sort_param:
        prev_attr.append(f"sort={q.sort_param}")
    if q.sort_key_param:
        prev_attr.append(f"sort_key={q.sort_key_param}")
    next_attr = list(prev_attr)
    if q.marker:
        prev_attr.append(f"marker={page_ids[0]}")
        prev_attr.append("page_reverse=True")
        links.append({"rel": "previous", "href": f"{path_url}?{'&'.join(prev_attr)}"})
    if q.limit is None or len(page_ids) >= q.limit:
        next_attr.append(f"marker={page_ids[-1]}")
        links.append({"rel": "next", "href": f"{path_url}?{'&'.join(next_attr)}"})
    return links


# ----- filtering ------------------------------------------------------------------------------
def bool_from_string(value: str) -> bool:
    return value.strip().lower() in _TRUE


def matches(value: Any, wanted: str) -> bool:
    """SQL equality between a column and a query-string value."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value == bool_from_string(wanted)
    if isinstance(value, int | float):
        try:
            return bool(value == type(value)(wanted))
        except ValueError:
            return False
    return str(value) == wanted


def tags_match(tags: Sequence[str], wanted: dict[str, list[str]]) -> bool:
    have = set(tags)
    if "tags" in wanted and not all(t in have for t in wanted["tags"]):
        return False
    if "tags-any" in wanted and not any(t in have for t in wanted["tags-any"]):
        return False
    if "not-tags" in wanted and all(t in have for t in wanted["not-tags"]):
        return False
    return not ("not-tags-any" in wanted and any(t in have for t in wanted["not-tags-any"]))


# ----- ordering -------------------------------------------------------------------------------
# Columns of SQLAlchemy's DateTime type: PaginationHelper's NULL default for them is NULL itself.
DATE_KEYS = frozenset({"created_at", "updated_at", "cert_expiration"})


def _norm(value: Any) -> tuple[int, Any]:
    # ORDER BY puts NULLs lowest; past a marker Octavia compares NULL strings as '' and
    # NULL numbers as 0, the lowest values too.
    return (0, 0) if value is None else (1, value)


def sort_value(obj: Any, keys: Sequence[tuple[str, str]],
               getter: Callable[[Any, str], Any]) -> tuple[tuple[int, Any], ...]:
    return tuple(_norm(getter(obj, k)) for k, _ in keys)


def compare(a: Sequence[Any], b: Sequence[Any], keys: Sequence[tuple[str, str]]) -> int:
    for va, vb, (_, direction) in zip(a, b, keys, strict=False):
        if va != vb:
            sign = 1 if va > vb else -1
            return sign if direction == "asc" else -sign
    return 0


def beyond_marker(row: Sequence[Any], marker: Sequence[Any],
                  keys: Sequence[tuple[str, str]], reverse: bool) -> bool:
    """Whether a row (its raw sort-key values) passes PaginationHelper's marker filter:
    ``(k1 > m1) or (k1 = m1 and k2 > m2) or ...``, each ``>`` a ``<`` for a descending key,
    both swapped by ``page_reverse``; NULLs as the SQL compares them."""
    for value, mark, (key, direction) in zip(row, marker, keys, strict=False):
        greater = (direction == "asc") != reverse
        if key in DATE_KEYS:
            if value is None:
                return False  # unknown: neither this criterion nor any later one holds
            if mark is None:
                return greater  # the marker's '' is a date before every other
        a, b = _norm(value), _norm(mark)
        if a != b:
            return (a > b) == greater
    return False


def _key_at(pos: int) -> Callable[[tuple[Any, Any]], Any]:
    def key(kv: tuple[Any, Any]) -> Any:
        return kv[0][pos]

    return key


def custom_page(objs: Iterable[Any], q: ListQuery, getter: Callable[[Any, str], Any],
                marker_obj: Any | None) -> list[Any]:
    """A page in a requested (non default) order: O(n log n) over the candidates."""
    keyed = [(sort_value(o, q.sort_keys, getter), o) for o in objs]
    # stable multi-pass sort, least significant key first
    for pos in range(len(q.sort_keys) - 1, -1, -1):
        keyed.sort(key=_key_at(pos), reverse=q.sort_keys[pos][1] == "desc")
    selected: Iterator[Any] = (obj for _, obj in keyed)
    if marker_obj is not None:
        mark = [getter(marker_obj, k) for k, _ in q.sort_keys]
        selected = (obj for _, obj in keyed if beyond_marker(
            [getter(obj, k) for k, _ in q.sort_keys], mark, q.sort_keys, q.page_reverse))
    return _first(selected, q.limit)


def _first(selected: Iterable[Any], limit: int | None) -> list[Any]:
    """The first `limit` of `selected` (all of them without a limit)."""
    page = []
    for obj in selected:
        page.append(obj)
        if limit is not None and len(page) >= limit:
            break
    return page


def unsorted_page(objs: Iterable[Any], q: ListQuery, getter: Callable[[Any, str], Any],
                  marker_obj: Any | None) -> list[Any]:
    """A page as Octavia serves it with ``allow_sorting = False``: no ORDER BY (the rows in
    the table's order, ``objs``), the marker still cutting on the keys asked for alone
    (the default keys are appended only where sorting is applied)."""
    selected: Iterator[Any] = iter(objs)
    if marker_obj is not None:
        mark = [getter(marker_obj, k) for k, _ in q.asked_keys]
        selected = (o for o in selected if beyond_marker(
            [getter(o, k) for k, _ in q.asked_keys], mark, q.asked_keys, q.page_reverse))
    return _first(selected, q.limit)
