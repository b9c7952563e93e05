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


def test_configured_fields_of_the_bulk_lists() -> None:
    lb = parse.loadbalancer({
        "id": "lb", "vip_qos_policy_id": "qos", "vip_vnic_type": "direct",
        "vip_sg_ids": ["sg-b", "sg-a"],
        "additional_vips": [{"subnet_id": "s2", "ip_address": "2001:db8::1", "port_id": "p2"},
                            {"subnet_id": "s1", "ip_address": "192.0.2.9", "port_id": None},
                            "junk"]})
    assert (lb.vip_qos_policy_id, lb.vip_vnic_type, lb.vip_sg_ids) == ("qos", "direct",
                                                                       "sg-a,sg-b")
    assert lb.additional_vips == (("192.0.2.9", "s1", ""), ("2001:db8::1", "s2", "p2"))
    listener = parse.listener({
        "id": "l", "timeout_client_data": 50000, "timeout_member_connect": "5000",
        "timeout_member_data": None, "timeout_tcp_inspect": 0,
        "allowed_cidrs": ["198.51.100.0/24", "192.0.2.0/24"], "tls_versions": ["TLSv1.3"],
        "alpn_protocols": ["h2", "http/1.1"], "hsts_max_age": 31536000,
        "hsts_include_subdomains": True, "hsts_preload": False})
    assert listener.timeouts == (50000, 5000, None, 0)
    assert listener.allowed_cidrs == "192.0.2.0/24,198.51.100.0/24"
    assert (listener.tls_versions, listener.alpn_protocols) == ("TLSv1.3", "h2,http/1.1")
    assert listener.hsts == (31536000, True, False)
    pool = parse.pool({"id": "p", "session_persistence": {"type": "HTTP_COOKIE",
                                                          "cookie_name": None},
                       "tls_enabled": True, "tls_versions": ["TLSv1.2", "TLSv1.3"],
                       "alpn_protocols": None})
    assert (pool.session_persistence, pool.tls_enabled, pool.tls_versions,
            pool.alpn_protocols) == ("HTTP_COOKIE", True, "TLSv1.2,TLSv1.3", "")
    hm = parse.healthmonitor({"id": "h", "delay": 10, "timeout": 5, "max_retries": 3,
                              "max_retries_down": 2, "http_method": "HEAD",
                              "url_path": "/health?token=s3cr3t#x", "expected_codes": "200-204"},
                             {})
    assert hm.probe == (10, 5, 3, 2)
    assert (hm.http_method, hm.url_path, hm.expected_codes) == ("HEAD", "/health", "200-204")


def test_absent_and_null_settings_are_empty_not_junk() -> None:
    """An older API leaves the fields out, a newer one sends null: both are "" or None."""
    for extra in ({}, dict.fromkeys(("vip_qos_policy_id", "vip_vnic_type", "vip_sg_ids",
                                     "additional_vips", "allowed_cidrs", "tls_versions",
                                     "alpn_protocols", "hsts_max_age", "hsts_include_subdomains",
                                     "session_persistence", "tls_enabled", "url_path",
                                     "http_method", "timeout_client_data", "delay"))):
        lb = parse.loadbalancer({"id": "lb", **extra})
        assert (lb.vip_qos_policy_id, lb.vip_vnic_type, lb.vip_sg_ids,
                lb.additional_vips) == ("", "", "", ())
        listener = parse.listener({"id": "l", **extra})
        assert (listener.allowed_cidrs, listener.tls_versions, listener.alpn_protocols) == (
            "", "", "")
        assert listener.timeouts == (None, None, None, None)
        assert listener.hsts == (None, None, None)
        pool = parse.pool({"id": "p", **extra})
        assert (pool.session_persistence, pool.tls_enabled) == ("", None)
        hm = parse.healthmonitor({"id": "h", **extra}, {})
        assert hm.probe == (None, None, None, None)
        assert (hm.http_method, hm.url_path) == ("", "")


def test_settings_tuples_are_shared_between_objects() -> None:
    """A fleet's listeners mostly have the same timeouts: one tuple for all of them."""
    rows = [{"id": f"l{i}", "timeout_client_data": int("50000"), "timeout_member_connect": 5000,
             "timeout_member_data": 50000, "timeout_tcp_inspect": 0} for i in range(3)]
    first, *others = (parse.listener(row) for row in rows)
    assert all(other.timeouts is first.timeouts for other in others)


def test_pool_members_carry_the_monitor_address_and_port() -> None:
    owner = parse.pool({"id": "pool", "loadbalancers": [{"id": "lb"}]})
    members = parse.pool_members([
        {"id": "m1", "address": "10.0.0.1", "protocol_port": 80, "monitor_address": "10.0.1.1",
         "monitor_port": 8081},
        {"id": "m2", "address": "10.0.0.2", "protocol_port": 80, "monitor_address": None,
         "monitor_port": None}], owner)
    assert members["m1"].monitor == ("10.0.1.1", "8081")
    assert members["m2"].monitor == ("", "")
    tree = parse.status_tree_members({"statuses": {"loadbalancer": {"listeners": [{"pools": [{
        "id": "pool", "members": [{"id": "m1", "address": "10.0.0.1"}]}]}]}}}, LB)
    assert tree["m1"].monitor is None  # the status tree does not carry it
