"""JSON shapes: which keys, which value types, merged over every object of an answer.

Two answers agree when every dict at every path has the same keys, each key is present in all or
in only some of the objects on both sides alike, and the values at every path have the same JSON
types. Values themselves (ids, names, numbers) are not compared: the fleets differ. A list that
is empty everywhere on one side says nothing about its elements, so those are compared only when
both sides have some.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


@dataclass
class Shape:
    types: set[str] = field(default_factory=set)
    dicts: int = 0                                          # how many dicts were seen here
    keys: dict[str, tuple[Shape, int]] = field(default_factory=dict)  # key → (shape, seen in)
    items: Shape | None = None                              # the shape of list elements

    def add(self, value: Any) -> Shape:
        self.types.add(json_type(value))
        if isinstance(value, dict):
            self.dicts += 1
            for key, item in value.items():
                shape, seen = self.keys.get(key, (Shape(), 0))
                self.keys[key] = (shape.add(item), seen + 1)
        elif isinstance(value, list):
            for item in value:
                self.items = (self.items or Shape()).add(item)
        return self


def shape_of(*values: Any) -> Shape:
    shape = Shape()
    for value in values:
        shape.add(value)
    return shape


@dataclass(frozen=True)
class Allowed:
    """A documented, accepted difference: at `path` (fnmatch), these type sets may differ."""

    path: str
    types: frozenset[str]
    why: str

    def covers(self, path: str, real: set[str], sim: set[str]) -> bool:
        return fnmatchcase(path, self.path) and real | sim <= self.types


def differences(real: Shape, sim: Shape, path: str = "$",
                allowed: tuple[Allowed, ...] = ()) -> list[str]:
    """Every disagreement between the real answer's shape and the simulator's, by JSON path."""
    found: list[str] = []
    if real.types != sim.types and not any(a.covers(path, real.types, sim.types)
                                           for a in allowed):
        found.append(f"{path}: Octavia sends {sorted(real.types)}, simulator "
                     f"{sorted(sim.types)}")
    if real.dicts and sim.dicts:
        for key in sorted(set(real.keys) | set(sim.keys)):
            where = f"{path}.{key}"
            if key not in sim.keys:
                found.append(f"{where}: only Octavia sends it")
                continue
            if key not in real.keys:
                found.append(f"{where}: only the simulator sends it")
                continue
            (real_shape, real_seen), (sim_shape, sim_seen) = real.keys[key], sim.keys[key]
            real_always, sim_always = real_seen == real.dicts, sim_seen == sim.dicts
            if real_always != sim_always:
                found.append(f"{where}: Octavia sends it {'always' if real_always else 'sometimes'}"
                             f", the simulator {'always' if sim_always else 'sometimes'}")
            found.extend(differences(real_shape, sim_shape, where, allowed))
    if real.items is not None and sim.items is not None:
        found.extend(differences(real.items, sim.items, f"{path}[]", allowed))
    return found
