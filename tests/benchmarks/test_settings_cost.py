"""benchmarks/settings_cost.py: the settings variant against the same lists without the settings
fields, on a small simulated fleet."""

from __future__ import annotations

from typing import Any

from benchmarks import settings_cost
from exporter.simulator.app import Simulator
from exporter.simulator.fleet import FleetSpec


def variants(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in result["variants"]}


def test_the_settings_add_one_client_timeout_per_listener_two_gauges_per_monitor_and_the_vips() -> None:
    result = settings_cost.run(50)
    found = variants(result)
    full, bare, none = found["settings"], found["stripped"], found["none"]
    objects = result["objects"]
    assert objects["loadbalancers"] == 50 and result["additional_vips"] > 0
    # Every simulated listener has a client timeout, and every monitor a delay and a timeout.
    assert full["series"] - none["series"] == (objects["listeners"] + 2 * objects["healthmonitors"]
                                               + result["additional_vips"])
    # The stripped lists leave the settings labels empty, and the settings gauges without samples.
    assert bare["series"] == none["series"]
    for size in ("plain_bytes", "gzip_bytes"):
        assert full[size] > bare[size] > none[size] > 0
    assert full["parsed_bytes"] > bare["parsed_bytes"] > 0
    assert none["parsed_bytes"] is None
    assert result["settings_slots"] == (4 * objects["loadbalancers"] + 5 * objects["listeners"]
                                        + 4 * objects["pools"] + 4 * objects["healthmonitors"])


def test_without_settings_takes_out_every_settings_label_and_family_and_nothing_else() -> None:
    fleet = Simulator(FleetSpec(lbs=12, seed=settings_cost.SEED,
                                start_time=settings_cost.START_TIME)).fleet
    product = settings_cost.settings_families(settings_cost.read_lists(fleet, {}))
    names = {f.name for f in product}
    assert set(settings_cost.SETTINGS_FAMILIES) <= names
    assert set(settings_cost.SETTINGS_LABELS) <= names
    reduced = {f.name: f for f in settings_cost.without_settings(product)}
    assert set(reduced) == names - set(settings_cost.SETTINGS_FAMILIES)
    for family in product:
        if family.name in reduced:
            dropped = set(settings_cost.SETTINGS_LABELS.get(family.name, ()))
            assert list(reduced[family.name].labels) == [
                label for label in family.labels if label not in dropped]


def test_every_stripped_field_is_one_the_product_asks_for() -> None:
    settings_cost.check_fields()
    for collection, stripped in settings_cost.SETTINGS_FIELDS.items():
        assert set(stripped) <= set(settings_cost.PRODUCT_FIELDS[collection])
