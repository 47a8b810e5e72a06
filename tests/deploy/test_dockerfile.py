from __future__ import annotations

import tomllib

from ops.cli.main import build_parser
from shared.config import Settings
from tests.deploy.deployfiles import dockerfile, exec_form
from tests.helpers import REPO_ROOT

KEYWORDS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
            "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}  # fmt: skip
SETTINGS_VARS = {f"RINGREADY_{name.upper()}" for name in Settings.__struct_fields__}


def test_every_instruction_is_well_formed() -> None:
    instructions = dockerfile()
    assert instructions[0].keyword == "FROM"
    for instruction in instructions:
        assert instruction.keyword in KEYWORDS, instruction
        assert instruction.args, instruction


def test_multi_stage_build_copies_only_the_venv() -> None:
    stages = [i.args.split() for i in dockerfile() if i.keyword == "FROM"]
    assert [stage[2] for stage in stages] == ["build", "runtime"]
    assert all(stage[1].upper() == "AS" and stage[0] == "python:3.11-slim" for stage in stages)
    copies = [i.args.split() for i in dockerfile() if i.keyword == "COPY" and "--from=build" in i.args]
    assert copies == [["--from=build", "/app/.venv", "/app/.venv"]]


def test_copied_sources_exist_in_the_repository() -> None:
    for instruction in dockerfile():
        parts = instruction.args.split()
        if instruction.keyword != "COPY" or parts[0].startswith("--from"):
            continue
        for source in parts[:-1]:
            assert (REPO_ROOT / source).exists(), source


def test_uv_version_matches_the_makefile() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    version = next(
        line.split(":=")[1].strip() for line in makefile.splitlines() if line.startswith("UV_VERSION")
    )
    assert any(f"astral-sh/uv:{version} " in i.args for i in dockerfile() if i.keyword == "COPY")


def test_entrypoint_is_the_project_script_and_cmd_a_real_subcommand() -> None:
    instructions = dockerfile()
    entrypoint = next(exec_form(i.args) for i in instructions if i.keyword == "ENTRYPOINT")
    cmd = next(exec_form(i.args) for i in instructions if i.keyword == "CMD")
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["ringready"] and "ringready" in scripts
    assert build_parser().parse_args(cmd).command == "api"


def test_env_names_only_real_settings() -> None:
    names = set()
    for instruction in dockerfile():
        if instruction.keyword == "ENV":
            names |= {item.split("=")[0] for item in exec_form(instruction.args)}
    ours = {name for name in names if name.startswith("RINGREADY_")}
    assert ours == {"RINGREADY_API_HOST", "RINGREADY_INGEST_HOST"}
    assert ours <= SETTINGS_VARS


def test_runtime_stage_runs_as_a_numeric_non_root_user_and_build_installs_from_the_lock() -> None:
    instructions = dockerfile()
    runtime = instructions[max(n for n, i in enumerate(instructions) if i.keyword == "FROM") :]
    (user,) = [i.args for i in runtime if i.keyword == "USER"]
    uid, gid = (int(part) for part in user.split(":"))
    assert uid > 0 and gid > 0  # numeric: Kubernetes' runAsNonRoot can only verify a numeric user
    (sync,) = [exec_form(i.args) for i in instructions if i.keyword == "RUN" and "uv sync" in i.args]
    assert "--frozen" in sync and "--no-dev" in sync
