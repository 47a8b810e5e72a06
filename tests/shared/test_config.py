from __future__ import annotations

import pytest

from shared.config import ConfigError, Settings, from_env


def test_defaults_when_nothing_is_set() -> None:
    settings = from_env({"PATH": "/bin", "HOME": "/root"})
    assert settings == Settings()
    assert settings.api_port == 8080
    assert settings.ingest_port == 8081


def test_values_are_coerced_from_strings() -> None:
    settings = from_env(
        {
            "RINGREADY_API_PORT": "9000",
            "RINGREADY_WEBHOOK_SECRETS": "whsec_a, whsec_b",
            "RINGREADY_PLANS": "free=10,pro=300",
            "RINGREADY_LOG_FORMAT": "json",
            "RINGREADY_HEADER_TIMEOUT_S": "2.5",
        }
    )
    assert settings.api_port == 9000
    assert settings.webhook_secrets == ("whsec_a", "whsec_b")
    assert settings.plans == {"free": 10, "pro": 300}
    assert settings.log_format == "json"
    assert settings.header_timeout_s == 2.5


def test_unknown_variable_stops_start_up_naming_it() -> None:
    with pytest.raises(ConfigError, match="RINGREADY_API_PROT"):
        from_env({"RINGREADY_API_PROT": "9000"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RINGREADY_API_PORT", "eighty"),
        ("RINGREADY_API_PORT", "70000"),
        ("RINGREADY_LOG_LEVEL", "loud"),
        ("RINGREADY_MAX_BODY_BYTES", "0"),
        ("RINGREADY_PLANS", "free=ten"),
        ("RINGREADY_PLANS", "free"),
        ("RINGREADY_BODY_TIMEOUT_S", "0"),
        ("RINGREADY_HEADER_TIMEOUT_S", "soon"),
        ("RINGREADY_KEEPALIVE_TIMEOUT_S", "-1"),
    ],
)
def test_malformed_value_stops_start_up_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        from_env({name: value})


def test_cross_field_rule_is_enforced() -> None:
    with pytest.raises(ConfigError, match="default_plan"):
        from_env({"RINGREADY_DEFAULT_PLAN": "gold"})


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.api_port = 1  # type: ignore[misc]


def test_edge_deadlines_default_to_the_documented_values() -> None:
    settings = Settings()
    assert (settings.header_timeout_s, settings.body_timeout_s, settings.keepalive_timeout_s) == (10, 30, 75)


def test_sentinels_are_host_port_pairs() -> None:
    settings = from_env({"RINGREADY_REDIS_SENTINELS": "10.0.0.1:26379, sentinel-b:26380"})
    assert settings.sentinel_addresses == [("10.0.0.1", 26379), ("sentinel-b", 26380)]
    assert Settings().sentinel_addresses == []


@pytest.mark.parametrize("address", ["sentinel-a", ":26379", "sentinel-a:port", "sentinel-a:70000"])
def test_a_malformed_sentinel_address_stops_start_up_naming_it(address: str) -> None:
    with pytest.raises(ConfigError, match=f"RINGREADY_REDIS_SENTINELS: expected host:port, got '{address}'"):
        from_env({"RINGREADY_REDIS_SENTINELS": address})
