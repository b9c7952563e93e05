"""Library log records go through the same renderer and masking as our own events."""

import io
import json
import logging
import warnings

import structlog

from exporter import logs


def test_stdlib_records_and_warnings_are_json_and_masked() -> None:
    buffer = io.StringIO()
    redactor = logs.Redactor()
    redactor.add(frozenset({"s3cret"}))
    try:
        logs.configure("debug", "json", stream=buffer, redactor=redactor)
        assert logs.installed_redactor() is redactor
        structlog.get_logger("ours").info("ours", detail="password s3cret")
        logging.getLogger("keystoneauth1.session").warning("REQ: curl -H 'X: s3cret' %s", "u")
        logging.getLogger("aiohttp.client").debug("debug from a library")
        warnings.warn("something is deprecated", DeprecationWarning, stacklevel=1)
    finally:
        logs.configure("info", "json")
    events = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [e["event"] for e in events][:2] == ["ours", "REQ: curl -H 'X: ***' u"]
    assert events[1]["logger"] == "keystoneauth1.session" and events[1]["level"] == "warning"
    assert any(e.get("logger") == "aiohttp.client" for e in events)
    assert any("something is deprecated" in e["event"] for e in events)
    assert "s3cret" not in buffer.getvalue()


def test_logfmt_and_prometheus_level_names() -> None:
    buffer = io.StringIO()
    try:
        logs.configure("warn", "logfmt", stream=buffer)
        structlog.get_logger("x").info("hidden")
        structlog.get_logger("x").warning("shown", url="http://k:5000/v3")
        logging.getLogger("openstack").info("hidden too")
    finally:
        logs.configure("info", "json")
    assert buffer.getvalue().splitlines() == [
        line for line in buffer.getvalue().splitlines() if "level=warning event=shown" in line]
    assert 'url=http://k:5000/v3' in buffer.getvalue()


def test_redact_url_drops_credentials_and_query() -> None:
    assert logs.redact_url("https://user:pw@k.example:5000/v3?token=abc#x") == \
        "https://k.example:5000/v3"
    assert logs.redact_url("http://[::1]:9876/v2/lbaas") == "http://[::1]:9876/v2/lbaas"


def test_redact_url_can_mask_only_the_password() -> None:
    assert logs.redact_url("amqp://guest:guest@127.0.0.1:5672/vhost?heartbeat=30",
                           mask_password=True) == \
        "amqp://guest:***@127.0.0.1:5672/vhost?heartbeat=30"
    assert logs.redact_url("amqp://guest:pw@[::1]:5672/", mask_password=True) == \
        "amqp://guest:***@[::1]:5672/"
    assert logs.redact_url("amqp://broker:5672/", mask_password=True) == "amqp://broker:5672/"
    assert logs.redact_url("amqp://[::1", mask_password=True) == ""
