from __future__ import annotations

import msgspec

from shared.config import Settings, from_env
from tests.deploy.deployfiles import env_entries

SETTINGS_VARS = {f"RINGREADY_{name.upper()}" for name in Settings.__struct_fields__}


def test_env_example_names_every_setting_exactly_once() -> None:
    names = [name for name, _, _ in env_entries()]
    assert len(names) == len(set(names)), "a variable appears twice"
    assert set(names) - SETTINGS_VARS == set(), "not a setting"
    assert SETTINGS_VARS - set(names) == set(), "setting missing from deploy/env.example"


def test_commented_lines_show_the_real_defaults() -> None:
    defaults = {name: value for name, value, active in env_entries() if not active}
    assert len(defaults) > 20
    assert from_env(defaults) == Settings()


def test_active_lines_are_valid_settings_for_containers() -> None:
    active = {name: value for name, value, is_active in env_entries() if is_active}
    settings = from_env(active)
    assert (settings.api_host, settings.ingest_host) == ("0.0.0.0", "0.0.0.0")
    assert settings.database_url.startswith("postgresql://") and "@postgres:" in settings.database_url
    assert settings.redis_url == "redis://valkey:6379/0"
    assert settings.log_format == "json"
    # Everything not set explicitly keeps its default.
    changed = {
        field
        for field in Settings.__struct_fields__
        if getattr(settings, field) != getattr(Settings(), field)
    }
    assert {f"RINGREADY_{field.upper()}" for field in changed} == set(active)
    assert msgspec.structs.replace(settings) == settings
