from __future__ import annotations

import copy

import jsonschema
import pytest

from ops.cli.main import build_parser
from shared.config import Settings
from tests.deploy.deployfiles import ENV_EXAMPLE, compose, compose_schema
from tests.helpers import REPO_ROOT

SETTINGS_VARS = {f"RINGREADY_{name.upper()}" for name in Settings.__struct_fields__}


def _errors(document: object) -> list[str]:
    validator = jsonschema.Draft202012Validator(compose_schema())
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(document)]


def test_compose_file_matches_the_compose_specification() -> None:
    assert compose_schema()["title"] == "Compose Specification"
    assert _errors(compose()) == []


def test_the_schema_check_catches_a_broken_file() -> None:
    # The validation above must be able to fail: break two fields.
    broken = copy.deepcopy(compose())
    broken["services"]["api"]["restart"] = 5
    broken["services"]["worker"]["depends_on"]["migrate"]["condition"] = "when_it_feels_like_it"
    errors = _errors(broken)
    assert any(error.startswith("['services', 'api', 'restart']") for error in errors), errors
    assert any(error.startswith("['services', 'worker', 'depends_on']") for error in errors), errors


def test_servers_are_durable_and_healthchecked() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"] == "postgres:18"
    assert services["valkey"]["image"].startswith("valkey/valkey:8")
    command = services["valkey"]["command"]
    flags = dict(zip(command[1::2], command[2::2], strict=True))
    assert flags == {"--appendonly": "yes", "--appendfsync": "always", "--maxmemory-policy": "noeviction"}
    for name in ("postgres", "valkey"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
        assert services[name]["volumes"], name


def test_services_start_after_a_successful_migration() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "ingest", "worker"):
        assert services[name]["command"] == [name]
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["depends_on"]["valkey"] == {"condition": "service_healthy"}
    for name in ("api", "ingest"):
        assert services[name]["healthcheck"]["test"][:4] == ["CMD", "python", "-m", "ops.cli.probe"]
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "python", "-m", "services.worker", "--check"]


@pytest.mark.parametrize("name", ["migrate", "api", "ingest", "worker"])
def test_our_services_build_the_image_and_read_env_example(name: str) -> None:
    service = compose()["services"][name]
    assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert (REPO_ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    assert REPO_ROOT / service["env_file"] == ENV_EXAMPLE
    # The command must be a real `ringready` subcommand (argparse exits on anything else).
    assert build_parser().parse_args(service["command"]).command == name


def test_ports_match_the_default_settings() -> None:
    services = compose()["services"]
    defaults = Settings()
    assert services["api"]["ports"] == [f"{defaults.api_port}:{defaults.api_port}"]
    assert services["ingest"]["ports"] == [f"{defaults.ingest_port}:{defaults.ingest_port}"]


def test_every_ringready_variable_in_compose_is_a_setting() -> None:
    named = set()
    for service in compose()["services"].values():
        environment = service.get("environment", {})
        keys = environment if isinstance(environment, dict) else [item.split("=")[0] for item in environment]
        named |= {key for key in keys if key.startswith("RINGREADY_")}
    assert named <= SETTINGS_VARS
