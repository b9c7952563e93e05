from collections.abc import Iterator, Mapping

from exporter.model.snapshot import LoadBalancer
from exporter.octavia import parse


def test_loadbalancer_tolerates_nulls_and_odd_types() -> None:
    lb = parse.loadbalancer({
        "id": "lb1", "name": None, "project_id": "p", "provisioning_status": "active",
        "operating_status": None, "admin_state_up": "false", "created_at": "2026-01-02T03:04:05",
        "updated_at": "garbage", "listeners": [{"id": "l1"}, "l2", {"no": "id"}, 5],
    })
    assert lb.name == ""
    assert lb.provisioning_status == "ACTIVE"
    assert lb.operating_status == "UNKNOWN"
    assert lb.admin_state_up is False
    assert lb.created_at == 1767323045.0
    assert lb.updated_at is None
    assert lb.listener_ids == ("l1", "l2")


def test_object_without_id_is_a_parse_error() -> None:
    for bad in ({"name": "x"}, {"id": ""}, {"id": 5}, "string", None):
        try:
            parse.loadbalancer(bad)
        except parse.ParseError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


def test_listener_parent_from_loadbalancers_list() -> None:
    lst = parse.listener({"id": "l", "loadbalancers": [{"id": "lb"}], "connection_limit": None})
    assert lst.loadbalancer_id == "lb"
    assert lst.connection_limit == -1


def test_timestamps_with_zone() -> None:
    assert parse.timestamp("2026-01-01T00:00:00Z") == parse.timestamp("2026-01-01T00:00:00")
    assert parse.timestamp("2026-01-01T01:00:00+01:00") == parse.timestamp("2026-01-01T00:00:00")


def test_stats_requires_fields_and_clamps_negatives() -> None:
    stats = parse.stats({"stats": {"bytes_in": "10", "bytes_out": -5, "active_connections": 2,
                                   "total_connections": 3.0, "request_errors": None}})
    assert (stats.bytes_in, stats.bytes_out, stats.total_connections, stats.request_errors) == (
        10, 0, 3, 0)
    for body in ({}, {"stats": []}, {"stats": {"bytes_in": 1}}):
        try:
            parse.stats(body)
        except parse.ParseError:
            continue
        raise AssertionError(body)


LB = LoadBalancer("lb", "n", "proj", "ACTIVE", "ONLINE", True)


def test_status_tree_real_shape_and_api_ref_shape() -> None:
    member = {"id": "m1", "name": "", "operating_status": "ERROR", "provisioning_status": "ACTIVE",
              "address": "192.0.2.1", "protocol_port": 80}
    real = {"statuses": {"loadbalancer": {"id": "lb", "listeners": [
        {"id": "l1", "pools": [{"id": "p1", "health_monitor": {"id": "h"},
                                "members": [member]}]}]}}}
    members = parse.status_tree_members(real, LB)
    assert members["m1"].pool_id == "p1" and members["m1"].project_id == "proj"
    assert members["m1"].operating_status == "ERROR"
    api_ref = {"statuses": {"loadbalancer": {"id": "lb", "listeners": [],
                                             "pools": [{"id": "p2", "members": [member]}]}}}
    assert parse.status_tree_members(api_ref, LB)["m1"].pool_id == "p2"


def test_status_tree_garbage() -> None:
    for body in ([], {"statuses": None}, {"statuses": {"loadbalancer": "x"}}):
        try:
            parse.status_tree_members(body, LB)
        except parse.ParseError:
            continue
        raise AssertionError(body)
    odd = {"statuses": {"loadbalancer": {"listeners": [None, {"pools": [{"members": [None]}]}]}}}
    assert parse.status_tree_members(odd, LB) == {}


def test_status_normalised_the_same_from_the_cache_and_the_cache_bounded() -> None:
    for raw, want in ((" online ", "ONLINE"), ("Error", "ERROR"), ("", "UNKNOWN"),
                      ("   ", "UNKNOWN"), (None, "UNKNOWN"), (5, "5")):
        first = parse.status({"s": raw}, "s")
        assert first == parse.status({"s": raw}, "s") == want  # the second from the cache
    # An API that sends a new status in every object: answers stay right, the cache stays small.
    for i in range(parse.STATUS_CACHE_SIZE * 3):
        assert parse.status({"s": f"weird-{i}"}, "s") == f"WEIRD-{i}"
    assert len(parse._STATUSES) <= parse.STATUS_CACHE_SIZE


class NotADict(Mapping[str, object]):
    """A Mapping that is not a dict: parsed like one, by the slower check."""

    def __init__(self, data: dict[str, object]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> object:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_mappings_that_are_not_dicts_are_read_too() -> None:
    lb = parse.loadbalancer(NotADict({"id": "lb1", "provisioning_status": "active",
                                      "listeners": [NotADict({"id": "l1"})]}))
    assert (lb.id, lb.provisioning_status, lb.listener_ids) == ("lb1", "ACTIVE", ("l1",))
    assert parse.stats(NotADict({"stats": NotADict({
        "bytes_in": 1, "bytes_out": 2, "active_connections": 3, "total_connections": 4})})
    ).total_connections == 4


def test_status_tree_members_of_the_pools_asked_for() -> None:
    def member(mid: str) -> dict[str, object]:
        return {"id": mid, "operating_status": "ONLINE", "provisioning_status": "ACTIVE"}
    tree = {"statuses": {"loadbalancer": {"id": "lb", "listeners": [
        {"id": "l1", "pools": [{"id": "p1", "members": [member("m1")]},
                               {"id": "p2", "members": [member("m2")]}]}]}}}
    assert set(parse.status_tree_members(tree, LB)) == {"m1", "m2"}
    assert set(parse.status_tree_members(tree, LB, frozenset({"p2"}))) == {"m2"}
    assert parse.status_tree_members(tree, LB, frozenset()) == {}
