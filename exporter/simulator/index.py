"""A sorted index of object ids by (created_at, id), Octavia's default list order.

Lists are served from these indexes so that one page costs O(log n + page), not O(fleet).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

SortKey = tuple[int, str]


class SortedIndex:
    """Ids kept in ascending (created_at, id) order."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: list[SortKey] = []

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: SortKey) -> None:
        keys = self._keys
        if not keys or keys[-1] < key:
            keys.append(key)
        else:
            bisect.insort(keys, key)

    def remove(self, key: SortKey) -> None:
        pos = bisect.bisect_left(self._keys, key)
        if pos < len(self._keys) and self._keys[pos] == key:
            del self._keys[pos]

    def after(self, key: SortKey | None) -> Iterator[str]:
        """Ids strictly after ``key`` (all ids when ``key`` is None), ascending."""
        keys = self._keys
        start = 0 if key is None else bisect.bisect_right(keys, key)
        for pos in range(start, len(keys)):
            yield keys[pos][1]

    def before(self, key: SortKey) -> Iterator[str]:
        """Ids strictly before ``key``, ascending (Octavia's page_reverse semantics)."""
        keys = self._keys
        end = bisect.bisect_left(keys, key)
        for pos in range(end):
            yield keys[pos][1]

    def descending_before(self, key: SortKey | None) -> Iterator[str]:
        """Ids strictly before ``key`` (all ids when ``key`` is None), nearest first."""
        keys = self._keys
        end = len(keys) if key is None else bisect.bisect_left(keys, key)
        for pos in range(end - 1, -1, -1):
            yield keys[pos][1]

    def ids(self) -> list[str]:
        return [k[1] for k in self._keys]

    def id_at(self, pos: int) -> str:
        return self._keys[pos][1]
