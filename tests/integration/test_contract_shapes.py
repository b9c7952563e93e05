"""The shape comparison itself (no OpenStack needed): it must see what the contract test relies on."""

from __future__ import annotations

from tests.integration.contract import Allowed, differences, shape_of


def test_same_keys_and_types_agree() -> None:
    real = shape_of({"a": 1, "b": [{"c": "x"}]}, {"a": 2, "b": []})
    sim = shape_of({"a": 3, "b": [{"c": "y"}, {"c": "z"}]})
    assert differences(real, sim) == []


def test_missing_extra_and_retyped_keys_are_found() -> None:
    real = shape_of({"id": "1", "weight": 1, "tags": [], "old": None})
    sim = shape_of({"id": "2", "weight": "1", "tags": [], "new": None})
    assert differences(real, sim) == [
        "$.new: only the simulator sends it",
        "$.old: only Octavia sends it",
        "$.weight: Octavia sends ['int'], simulator ['str']",
    ]


def test_a_key_left_out_for_some_objects_is_found() -> None:
    real = shape_of({"hm": None}, {"hm": {"id": "x"}})
    sim = shape_of({}, {"hm": {"id": "x"}})
    assert differences(real, sim) == [
        "$.hm: Octavia sends it always, the simulator sometimes",
        "$.hm: Octavia sends ['dict', 'null'], simulator ['dict']",
    ]


def test_nested_lists_are_compared_element_wise() -> None:
    real = shape_of({"pools": [{"members": [{"port": 80}]}]})
    sim = shape_of({"pools": [{"members": [{"port": 80.5}]}]})
    assert differences(real, sim) == ["$.pools[].members[].port: Octavia sends ['int'], "
                                      "simulator ['float']"]


def test_only_the_allowed_path_and_types_are_forgiven() -> None:
    allowed = (Allowed("$.flavor_id", frozenset({"null", "str"}), "unset in one fleet"),)
    real, sim = shape_of({"flavor_id": None, "name": None}), shape_of({"flavor_id": "f",
                                                                         "name": "n"})
    assert differences(real, sim, allowed=allowed) == [
        "$.name: Octavia sends ['null'], simulator ['str']"]
    assert differences(shape_of({"flavor_id": 1, "name": "n"}), sim, allowed=allowed) == [
        "$.flavor_id: Octavia sends ['int'], simulator ['str']"]
