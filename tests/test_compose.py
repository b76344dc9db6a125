"""The production stack (docker-compose.yml and Dockerfile), checked statically: no engine needed."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import IndexedValueType

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the project is run from its checkout, not installed
    sys.path.insert(0, str(ROOT))

from core.settings import DEVELOPMENT_SIGNING_KEY, Settings  # noqa: E402
from workflows.search import ALL_KEYS  # noqa: E402

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

LONG_RUNNING = {"postgresql", "temporal", "temporal-ui", "api", "worker"}
ONE_SHOT = {"temporal-admin-tools"}
APP_SERVICES = ("api", "worker")

# Values for the variables the stack requires, standing in for real secrets.
DUMMY_ENV = {
    "CASES_JWT_SIGNING_KEY": "dummy-signing-key-for-compose-tests-only",
    "CASES_PAYLOAD_KEYS": '{"compose-test": "Y29tcG9zZS10ZXN0cy1vbmx5LW5vdC1hLXJlYWwta2U="}',
    "CASES_PAYLOAD_KEY_ID": "compose-test",
    "POSTGRES_PASSWORD": "dummy-postgres-password",
    "CASES_AREAS": '["north", "south"]',
    "CASES_AUDIT_KEY": "dummy-audit-key-for-compose-tests-only-0123",
}

SECRET_NAME = re.compile(r"(KEY|SECRET|PASSWORD|PWD|TOKEN)$")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=value list form
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def interpolate(value: str, env: dict[str, str]) -> str:
    """What compose makes of a value, given the variables in env (enough for these tests)."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in env and (env[name] or not (op or "").startswith(":")):
            return env[name]
        if op and op.endswith("-"):
            return arg
        raise AssertionError(f"{name} is required by the compose file and was not provided")

    return VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def command_words(command: Any) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def dockerfile_cmd() -> list[str]:
    lines = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD")]
    assert len(lines) == 1, "the Dockerfile has exactly one CMD"
    return json.loads(lines[0].removeprefix("CMD").strip())


def cli_type(key: Any) -> str:
    """INDEXED_VALUE_TYPE_KEYWORD_LIST -> KeywordList, the spelling of `temporal ... --type`."""
    name = IndexedValueType.Name(key.indexed_value_type).removeprefix("INDEXED_VALUE_TYPE_")
    return "".join(part.capitalize() for part in name.split("_"))


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def test_every_service_of_the_stack_is_defined(services: dict[str, Any]) -> None:
    missing = (LONG_RUNNING | ONE_SHOT) - services.keys()
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_every_long_running_service_has_a_healthcheck_and_restarts(
        services: dict[str, Any]) -> None:
    long_running = {name for name, service in services.items()
                    if service.get("restart", "no") != "no"} | LONG_RUNNING
    for name in sorted(long_running):
        healthcheck = services[name].get("healthcheck") or {}
        test = healthcheck.get("test")
        assert test and not healthcheck.get("disable") and test != ["NONE"], \
            f"{name} has no healthcheck"
        assert services[name].get("restart") == "unless-stopped", \
            f"{name} should have restart: unless-stopped"


def test_one_shot_jobs_do_not_restart(services: dict[str, Any]) -> None:
    for name in ONE_SHOT:
        assert services[name].get("restart", "no") == "no", f"{name} runs once"


def test_every_cases_variable_is_a_settings_field(services: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    for name in APP_SERVICES:
        variables = [key for key in environment(services[name]) if key.startswith("CASES_")]
        assert variables, f"{name} sets no CASES_* variables"
        unknown = {key for key in variables
                   if key.removeprefix("CASES_").lower() not in fields}
        assert not unknown, f"{name} sets variables Settings does not read: {sorted(unknown)}"


def test_the_app_environment_is_a_valid_production_settings(
        services: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in APP_SERVICES:
        for key in list(os.environ):
            if key.startswith("CASES_"):
                monkeypatch.delenv(key)
        for key, value in environment(services[name]).items():
            monkeypatch.setenv(key, interpolate(value, DUMMY_ENV))
        settings = Settings(_env_file=None)
        assert settings.environment == "production"
        assert settings.jwt_signing_key == DUMMY_ENV["CASES_JWT_SIGNING_KEY"]
        assert settings.payload_key_id == DUMMY_ENV["CASES_PAYLOAD_KEY_ID"]
        assert settings.areas == ["north", "south"]


def test_api_and_worker_share_temporal_and_database(services: dict[str, Any]) -> None:
    api, worker = environment(services["api"]), environment(services["worker"])
    for key in ("CASES_TEMPORAL_ADDRESS", "CASES_TASK_QUEUE", "CASES_DATABASE_URL",
                "CASES_TEMPORAL_NAMESPACE"):
        assert key in api, f"api does not set {key}"
        assert api.get(key) == worker.get(key), f"api and worker disagree on {key}"
    host, _, port = api["CASES_TEMPORAL_ADDRESS"].rpartition(":")
    assert host == "temporal" and host in services and port == "7233"


def test_the_worker_serves_its_metrics_on_the_compose_network(
        services: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    worker = services["worker"]
    port = environment(worker)["CASES_WORKER_METRICS_PORT"]
    assert port in [str(p) for p in worker.get("expose", [])]
    assert not any(port in str(p) for p in worker.get("ports", []))  # not on the host
    for key in list(os.environ):
        if key.startswith("CASES_"):
            monkeypatch.delenv(key)
    for key, value in environment(worker).items():
        monkeypatch.setenv(key, interpolate(value, DUMMY_ENV))
    assert Settings(_env_file=None).worker_metrics_port == int(port)


def test_the_database_url_points_at_the_compose_postgres(services: dict[str, Any]) -> None:
    url = make_url(interpolate(environment(services["api"])["CASES_DATABASE_URL"], DUMMY_ENV))
    postgres = environment(services["postgresql"])
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "postgresql" and url.host in services
    assert url.port in (None, 5432)
    assert url.database == "cases" == postgres["POSTGRES_DB"]
    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == DUMMY_ENV["POSTGRES_PASSWORD"], "the password comes from the environment"
    assert postgres["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")


def test_postgres_is_checked_and_persisted(services: dict[str, Any]) -> None:
    postgres = services["postgresql"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(command_words(postgres["healthcheck"]["test"]))
    assert any(str(volume).endswith(":/var/lib/postgresql/data")
               for volume in postgres.get("volumes", []))


def test_temporal_runs_on_the_compose_postgres(services: dict[str, Any]) -> None:
    temporal = services["temporal"]
    assert re.fullmatch(r"temporalio/auto-setup:1\.2\d\.\d+", temporal["image"]), \
        "pin temporalio/auto-setup to a 1.2x release"
    env = environment(temporal)
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgresql"
    assert env["POSTGRES_USER"] == environment(services["postgresql"])["POSTGRES_USER"]
    assert depends_on(temporal).get("postgresql") == "service_healthy"
    check = " ".join(command_words(temporal["healthcheck"]["test"]))
    assert "temporal operator cluster health" in check or "tctl" in check


def test_every_third_party_image_is_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if "build" in service or "image" not in service:
            continue
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"


def test_admin_tools_register_every_search_attribute(services: dict[str, Any]) -> None:
    admin = services["temporal-admin-tools"]
    namespace = environment(services["api"])["CASES_TEMPORAL_NAMESPACE"]
    script = "\n".join(command_words(admin.get("entrypoint") or []) +
                       command_words(admin.get("command") or []))
    registered: dict[str, str] = {}
    for line in script.splitlines():
        words = shlex.split(line)
        if words[:4] != ["temporal", "operator", "search-attribute", "create"]:
            continue
        options = dict(zip(words[4::2], words[5::2], strict=True))
        assert options.get("--namespace") == namespace, line
        assert options["--name"] not in registered, f"{options['--name']} registered twice"
        registered[options["--name"]] = options["--type"]
    expected = {key.name: cli_type(key) for key in ALL_KEYS}
    assert registered == expected
    assert depends_on(admin).get("temporal") == "service_healthy"
    assert environment(admin).get("TEMPORAL_ADDRESS") == "temporal:7233"


def test_the_worker_waits_for_temporal_and_the_search_attributes(services: dict[str, Any]) -> None:
    deps = depends_on(services["worker"])
    assert deps.get("temporal") == "service_healthy"
    assert deps.get("temporal-admin-tools") == "service_completed_successfully"
    assert command_words(services["worker"]["command"]) == ["python", "worker.py"]
    # worker.py drains for up to 20 s on SIGTERM; compose must not kill it sooner.
    grace = re.fullmatch(r"(\d+)(s|m)", str(services["worker"].get("stop_grace_period", "10s")))
    assert grace and int(grace[1]) * (60 if grace[2] == "m" else 1) > 20


def test_the_temporal_ui_points_at_temporal(services: dict[str, Any]) -> None:
    ui = services["temporal-ui"]
    assert ui["image"].startswith("temporalio/ui:")
    assert environment(ui)["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "8233:8080" in [str(port) for port in ui.get("ports", [])]


def test_no_secret_has_a_literal_default(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            if not SECRET_NAME.search(key):
                continue
            assert DEVELOPMENT_SIGNING_KEY not in value, f"{name}: {key} is the development key"
            match = VARIABLE.fullmatch(value)
            assert match and (match["op"] or "").endswith("?"), \
                f"{name}: {key} must be ${{VAR:?message}}, never a literal or a default"
    for name in APP_SERVICES:
        value = environment(services[name])["CASES_JWT_SIGNING_KEY"]
        assert re.fullmatch(r"\$\{CASES_JWT_SIGNING_KEY:\?[^}]+\}", value), value


def test_the_api_runs_its_launcher_one_process_per_core(services: dict[str, Any]) -> None:
    # api/serve.py serves the app factory with as many processes as the container has cores.
    commands = [dockerfile_cmd()]
    if services["api"].get("command"):
        commands.append(command_words(services["api"]["command"]))
    for command in commands:
        assert command[:3] == ["python", "-m", "api.serve"], command
        assert command[command.index("--host") + 1] == "0.0.0.0"
        assert command[command.index("--port") + 1] == "8000"
        assert "--processes" not in command, "CASES_API_PROCESSES chooses; 0 is one per core"
    assert "8000:8000" in [str(port) for port in services["api"].get("ports", [])]
    check = " ".join(command_words(services["api"]["healthcheck"]["test"]))
    assert "urllib" in check and "/health" in check


def test_the_dockerfile_builds_a_slim_non_root_image(services: dict[str, Any]) -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert re.search(r"\bpip install \.(\s|$)", text), "install the project, without extras"
    assert "[dev]" not in text
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    for name in APP_SERVICES:
        build = services[name].get("build")
        context = build.get("context") if isinstance(build, dict) else build
        assert context == ".", f"{name} builds the Dockerfile at the root"


@pytest.fixture(scope="module")
def docker_compose() -> list[str]:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client binary on PATH")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True,
                           timeout=30, check=False)
    if probe.returncode != 0:
        reason = (probe.stderr or probe.stdout).strip().splitlines()[:1]
        pytest.skip("the docker client has no `compose` subcommand (the compose plugin is not "
                    f"installed): {' '.join(reason)}")
    return [docker, "compose", "-f", str(COMPOSE_FILE)]


def compose_env(**overrides: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in DUMMY_ENV and key != "COMPOSE_FILE"}
    env.update(DUMMY_ENV)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def test_docker_compose_accepts_the_file(docker_compose: list[str]) -> None:
    result = subprocess.run([*docker_compose, "config", "-q"], cwd=ROOT, env=compose_env(),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_run_without_the_signing_key(
        docker_compose: list[str]) -> None:
    result = subprocess.run([*docker_compose, "config", "-q"], cwd=ROOT,
                            env=compose_env(CASES_JWT_SIGNING_KEY=None),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "CASES_JWT_SIGNING_KEY" in result.stderr
