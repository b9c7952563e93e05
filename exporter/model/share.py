"""Sharing unchanged objects between snapshots, so two alive at once cost little more than one
and the renderer can tell an unchanged mapping by its identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")
M = TypeVar("M", bound=Mapping[Any, Any])


def same(before: Mapping[Any, Any], key: Any, obj: T) -> T:
    """The previous snapshot's object when nothing changed, else the new one. Done as each
    object is parsed, so two snapshots alive at once cost little more than one and unchanged
    strings are never held twice."""
    old = before.get(key)
    return old if old is not None and old == obj else obj


def kept(new: M, old: M) -> M:
    """`old` when `new` holds the very same objects under the same keys, else `new`. A mapping
    that stays the same object tells the renderer its families need no new text
    (families.Key), so an unchanged part of the fleet is not formatted again."""
    if new is old or len(new) != len(old):
        return new
    missing = object()
    for key, value in new.items():
        if old.get(key, missing) is not value:
            return new
    return old
