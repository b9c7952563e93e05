import pytest

from exporter import config


def test_defaults_are_valid() -> None:
    settings = config.load([], environ={})
    assert settings.interval == 30.0
    assert settings.listen_port == config.DEFAULT_PORT
    assert settings.status_series == "current"
    # Unset: pages of DEFAULT_PAGE_SIZE, small enough that other clients' requests get in
    # between ours, after first lists at the API's maximum (docs/benchmarks.md).
    assert settings.page_size is None and config.DEFAULT_PAGE_SIZE == 200


def test_lists_share_is_a_share() -> None:
    assert config.load([], environ={}).lists_share == 0.04
    assert config.load(["--lists-share", "1"], environ={}).lists_share == 1.0
    with pytest.raises(config.ConfigError) as caught:
        config.load(["--lists-share", "1.5"], environ={})
    assert caught.value.problems == [
        "lists_share (flag --lists-share): must be at most 1, got '1.5'"]


def test_page_size_zero_means_the_apis_maximum() -> None:
    assert config.load(["--page-size", "0"], environ={}).page_size == 0
    with pytest.raises(config.ConfigError, match="page_size"):
        config.load(["--page-size", "-1"], environ={})


def test_flag_beats_env_beats_file(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("interval: 40\nconcurrency: 4\nretries: 1\n")
    env = {"OCTAVIA_EXPORTER_INTERVAL": "50", "OCTAVIA_EXPORTER_CONCURRENCY": "8"}
    settings = config.load(["--config-file", str(path), "--interval", "60"], environ=env)
    assert settings.interval == 60.0
    assert settings.concurrency == 8
    assert settings.retries == 1


def test_every_problem_is_reported_at_once(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("intervall: 5\nstatus_series: all\n")
    with pytest.raises(config.ConfigError) as caught:
        config.load(["--config-file", str(path), "--interval", "-1", "--retries", "x"],
                    environ={"OCTAVIA_EXPORTER_LOG_LEVEL": "loud"})
    problems = caught.value.problems
    text = "\n".join(problems)
    assert len(problems) == 5, text
    assert "unknown setting 'intervall'" in text and "did you mean 'interval'" in text
    assert "status_series (config file" in text and "current, stateset" in text
    assert "interval (flag --interval): must be at least 1" in text
    assert "retries (flag --retries): expected a whole number" in text
    assert "log_level (env OCTAVIA_EXPORTER_LOG_LEVEL)" in text


def test_clouds_from_os_cloud_and_repeated_flags() -> None:
    assert config.load([], environ={"OS_CLOUD": "a, b"}).clouds == ("a", "b")
    assert config.load(["--os-cloud", "x", "--os-cloud", "y,x"], environ={}).clouds == ("x", "y")


def test_listen_address_forms() -> None:
    # ":port" is every interface of both families, like Go's net.Listen.
    assert config.load(["--web.listen-address", ":9000"], environ={}).listen_host == ""
    assert config.load([], environ={}).listen_host == ""
    settings = config.load(["--web.listen-address", "127.0.0.1:9001"], environ={})
    assert (settings.listen_host, settings.listen_port) == ("127.0.0.1", 9001)
    settings = config.load(["--web.listen-address", "[::1]:9002"], environ={})
    assert settings.listen_host == "::1"


def test_unreadable_and_non_mapping_files(tmp_path) -> None:
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(["--config-file", str(tmp_path / "missing.yaml")], environ={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(config.ConfigError, match="must be a mapping"):
        config.load(["--config-file", str(bad)], environ={})


def test_bool_settings() -> None:
    assert config.load(["--no-amphorae"], environ={}).amphorae is False
    assert config.load([], environ={"OCTAVIA_EXPORTER_AMPHORA_STATS": "yes"}).amphora_stats
    with pytest.raises(config.ConfigError, match="expected true or false"):
        config.load([], environ={"OS_INSECURE": "maybe"})
