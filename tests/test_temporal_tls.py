"""A secured Temporal connection, for real: TLS, mTLS, an API key and profile files.

`temporal server start-dev` has no TLS, so tests/tls_proxy.py puts a TLS endpoint, with a
certificate authority made by the test, in front of the suite's dev server. Every setting
comes from the environment, as an operator would give it, set per test with monkeypatch.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from aha.adapters.sqlite.programme import SqliteProgrammeStore
from aha.adapters.temporal.connection import connect, connection_target
from aha.adapters.temporal.gateway import TemporalCases
from aha.config import Settings
from aha.domain.policy import parse_policy
from aha.service import CaseService
from tests.conftest import ALWAYS_CALLABLE, Cases, free_port
from tests.tls_proxy import Authority, TlsProxy, tls_proxy
from worker import build_worker

REPO = Path(__file__).resolve().parents[1]
API_KEY = f"sk-test-{uuid.uuid4().hex}"


@pytest.fixture
def temporal_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., None]:
    """Clear every TEMPORAL_* variable (and the user's own profile file) for this test, then
    set the ones given; monkeypatch puts the process environment back afterwards."""
    for name in list(os.environ):
        if name.startswith(("TEMPORAL_", "AHA_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-user-config"))

    def set_env(**variables: str | Path) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, str(value))

    return set_env


@pytest.fixture(scope="module")
def authority() -> Authority:
    return Authority()


@pytest.fixture
def ca_file(authority: Authority, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(authority.cert_pem)
    return path


@pytest.fixture
def dev_server(env: WorkflowEnvironment) -> str:
    """The suite's dev server, plaintext; only the proxies below reach it in these tests."""
    return env.client.service_client.config.target_host


@pytest.fixture
def proxy(dev_server: str, authority: Authority, tmp_path: Path) -> Iterator[TlsProxy]:
    with tls_proxy(dev_server, authority, tmp_path) as running:
        yield running


@pytest.fixture
def mtls_proxy(dev_server: str, authority: Authority, tmp_path: Path) -> Iterator[TlsProxy]:
    with tls_proxy(dev_server, authority, tmp_path, require_client_cert=True) as running:
        yield running


async def until(check: Callable[[], bool], timeout: float = 5) -> None:
    """The proxy's thread records a handshake a moment after the client has given up."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the TLS endpoint never saw the expected handshakes")
        await asyncio.sleep(0.02)


async def connect_within(settings: Settings, timeout: float = 20) -> Client:
    return await asyncio.wait_for(connect(settings), timeout)


@asynccontextmanager
async def case_stack(
    client: Client, tmp_path: Path, mail: tuple[Path, int]
) -> AsyncIterator[Cases]:
    """The real worker and the CLI's service, both on `client`."""
    settings = replace(
        Settings(),
        task_queue=f"tls-{uuid.uuid4()}",
        db_path=str(tmp_path / "aha.db"),
        smtp_host="127.0.0.1",
        smtp_port=mail[1],
        dialer="manual",
    )
    store = SqliteProgrammeStore(settings.db_path)
    async with build_worker(client, settings, parse_policy(ALWAYS_CALLABLE)):
        service = CaseService(TemporalCases(client), store, settings.task_queue)
        yield Cases(None, service, store, mail[0])  # type: ignore[arg-type]


async def a_case_runs(cases: Cases) -> None:
    """Detect, then see the worker act on it: the first email out and the first call dialled."""
    seller = cases.new_seller()
    await cases.service.detect(cases.event(seller))
    view = await cases.wait_for_call(seller, 1)
    assert view.status.value != "closed"
    assert await cases.wait_for_emails(seller, 1)


# ---- TLS -------------------------------------------------------------------------------------


async def test_a_case_runs_through_tls_with_the_ca_from_the_environment(
    temporal_env: Callable[..., None],
    proxy: TlsProxy,
    ca_file: Path,
    tmp_path: Path,
    mail_outbox: tuple[Path, int],
) -> None:
    temporal_env(TEMPORAL_ADDRESS=proxy.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH=ca_file)
    settings = Settings()
    assert connection_target(settings) == (proxy.address, "default", True, False, False)

    client = await connect_within(settings)
    async with case_stack(client, tmp_path, mail_outbox) as cases:
        await a_case_runs(cases)

    assert proxy.handshakes >= 1, "nothing went through the TLS endpoint"
    assert proxy.alpn == {"h2"}
    assert proxy.bytes_up > 0
    assert proxy.failed_handshakes == []


async def test_without_the_right_ca_the_connection_is_refused(
    temporal_env: Callable[..., None], proxy: TlsProxy, tmp_path: Path
) -> None:
    # TLS on with the system's roots only: the test's CA is not among them.
    temporal_env(TEMPORAL_ADDRESS=proxy.address, TEMPORAL_TLS="true")
    with pytest.raises(RuntimeError, match="UnknownIssuer"):
        await connect_within(Settings())

    other = tmp_path / "other-ca.pem"
    other.write_bytes(Authority("someone else's CA").cert_pem)
    temporal_env(TEMPORAL_TLS_SERVER_CA_CERT_PATH=other)
    with pytest.raises(RuntimeError, match="UnknownIssuer"):
        await connect_within(Settings())

    await until(lambda: len(proxy.failed_handshakes) == 2)
    assert proxy.handshakes == 0
    assert all("unknown ca" in reason.lower() for reason in proxy.failed_handshakes)


async def test_a_server_name_the_certificate_lacks_is_refused(
    temporal_env: Callable[..., None], proxy: TlsProxy, ca_file: Path
) -> None:
    temporal_env(
        TEMPORAL_ADDRESS=proxy.address,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH=ca_file,
        TEMPORAL_TLS_SERVER_NAME="temporal.elsewhere.example",
    )
    with pytest.raises(RuntimeError, match="NotValidForName"):
        await connect_within(Settings())
    assert proxy.handshakes == 0


async def test_plaintext_to_the_tls_port_fails(
    temporal_env: Callable[..., None], proxy: TlsProxy
) -> None:
    temporal_env(TEMPORAL_ADDRESS=proxy.address)
    assert connection_target(Settings()).tls is False
    with pytest.raises(RuntimeError):
        await connect_within(Settings())
    await until(lambda: bool(proxy.failed_handshakes))
    assert proxy.handshakes == 0
    assert "wrong version number" in proxy.failed_handshakes[0].lower()


async def test_the_cli_names_the_address_and_the_reason_when_tls_fails(
    temporal_env: Callable[..., None], proxy: TlsProxy, tmp_path: Path
) -> None:
    temporal_env(TEMPORAL_ADDRESS=proxy.address, TEMPORAL_TLS="true")
    done = await run_aha(tmp_path, "status", "some-seller")
    assert done.returncode == 1
    assert f"cannot reach Temporal at {proxy.address}" in done.stderr
    assert "UnknownIssuer" in done.stderr


# ---- mTLS ------------------------------------------------------------------------------------


async def test_mtls_works_with_the_client_certificate_and_fails_without(
    temporal_env: Callable[..., None],
    mtls_proxy: TlsProxy,
    authority: Authority,
    ca_file: Path,
    tmp_path: Path,
) -> None:
    temporal_env(TEMPORAL_ADDRESS=mtls_proxy.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH=ca_file)
    with pytest.raises(RuntimeError):
        await connect_within(Settings())
    await until(lambda: bool(mtls_proxy.failed_handshakes))
    assert mtls_proxy.handshakes == 0
    assert "did not return a certificate" in mtls_proxy.failed_handshakes[0]

    cert, key = authority.issue("aha-worker", server=False).write(tmp_path, "client")
    temporal_env(TEMPORAL_TLS_CLIENT_CERT_PATH=cert, TEMPORAL_TLS_CLIENT_KEY_PATH=key)
    settings = Settings()
    assert connection_target(settings).client_cert is True
    client = await connect_within(settings)
    assert await client.service_client.check_health()
    assert mtls_proxy.handshakes >= 1


async def test_a_profile_file_with_mtls_runs_a_case(
    temporal_env: Callable[..., None],
    mtls_proxy: TlsProxy,
    authority: Authority,
    ca_file: Path,
    tmp_path: Path,
    mail_outbox: tuple[Path, int],
) -> None:
    cert, key = authority.issue("aha-worker", server=False).write(tmp_path, "client")
    profiles = tmp_path / "temporal.toml"
    profiles.write_text(
        f"""
[profile.default]
address = "127.0.0.1:1"

[profile.secure]
address = "{mtls_proxy.address}"
namespace = "default"

[profile.secure.tls]
server_ca_cert_path = "{ca_file}"
client_cert_path = "{cert}"
client_key_path = "{key}"
""",
        encoding="utf-8",
    )
    temporal_env(TEMPORAL_CONFIG_FILE=profiles, TEMPORAL_PROFILE="secure")
    settings = Settings()
    # The address every message shows is the profile's, the one actually dialled.
    assert settings.temporal_address == mtls_proxy.address
    assert connection_target(settings) == (mtls_proxy.address, "default", True, False, True)

    client = await connect_within(settings)
    async with case_stack(client, tmp_path, mail_outbox) as cases:
        await a_case_runs(cases)
    assert mtls_proxy.handshakes >= 1
    assert mtls_proxy.failed_handshakes == []


# ---- profiles and bad settings ---------------------------------------------------------------


async def test_the_environment_wins_over_the_profile(
    temporal_env: Callable[..., None], tmp_path: Path
) -> None:
    profiles = tmp_path / "temporal.toml"
    profiles.write_text(
        '[profile.default]\naddress = "profile.example:7233"\nnamespace = "from-profile"\n',
        encoding="utf-8",
    )
    temporal_env(TEMPORAL_CONFIG_FILE=profiles)
    assert connection_target(Settings())[:2] == ("profile.example:7233", "from-profile")
    temporal_env(TEMPORAL_ADDRESS="env.example:7233", TEMPORAL_NAMESPACE="from-env")
    assert connection_target(Settings())[:2] == ("env.example:7233", "from-env")


async def test_nothing_set_means_the_local_dev_server(temporal_env: Callable[..., None]) -> None:
    assert connection_target(Settings()) == ("localhost:7233", "default", False, False, False)


PROFILES = '[profile.staging]\naddress = "a:7233"\n\n[profile.prod]\naddress = "b:7233"\n'


@pytest.mark.parametrize(
    ("file_text", "variables", "message"),
    [
        (PROFILES, {"TEMPORAL_PROFILE": "prdo"}, "TEMPORAL_PROFILE: no profile 'prdo' in "),
        (PROFILES, {"TEMPORAL_PROFILE": "prdo"}, "profiles: prod, staging"),
        (None, {"TEMPORAL_PROFILE": "prod"}, "TEMPORAL_PROFILE: no profile 'prod' because"),
        ("[profile.prod\n", {}, "TEMPORAL_CONFIG_FILE: "),
        ("[profile.prod\n", {}, "is not valid TOML"),
        ('[profile.default]\nadress = "a:7233"\n', {}, "adress"),
        (None, {"TEMPORAL_CONFIG_FILE": "/nowhere/temporal.toml"}, "TEMPORAL_CONFIG_FILE: "),
        (None, {"TEMPORAL_TLS": "yes"}, "TEMPORAL_TLS: 'yes' is not true or false"),
        (
            None,
            {"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true"},
            "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: the Temporal Python SDK cannot",
        ),
        (
            "[profile.default.tls]\ndisable_host_verification = true\n",
            {},
            "disable_host_verification in profile 'default'",
        ),
        (
            None,
            {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/nowhere/ca.pem"},
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read /nowhere/ca.pem",
        ),
        (
            '[profile.default.tls]\nserver_ca_cert_path = "/nowhere/ca.pem"\n',
            {},
            "server_ca_cert_path in profile 'default' of ",
        ),
        (
            None,
            {"TEMPORAL_TLS_SERVER_CA_CERT_DATA": "not a certificate"},
            "TEMPORAL_TLS_SERVER_CA_CERT_DATA: not a PEM",
        ),
        (
            None,
            {"TEMPORAL_TLS_CLIENT_CERT_DATA": "-----BEGIN CERTIFICATE-----"},
            "a client certificate needs its key",
        ),
        (
            None,
            {"TEMPORAL_TLS_CLIENT_CERT_PATH": "/a", "TEMPORAL_TLS_CLIENT_CERT_DATA": "b"},
            "Cannot specify both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_CERT_DATA",
        ),
    ],
)
def test_bad_connection_settings_stop_with_the_setting_and_the_reason(
    temporal_env: Callable[..., None],
    tmp_path: Path,
    file_text: str | None,
    variables: dict[str, str],
    message: str,
) -> None:
    if file_text is not None:
        profiles = tmp_path / "temporal.toml"
        profiles.write_text(file_text, encoding="utf-8")
        temporal_env(TEMPORAL_CONFIG_FILE=profiles)
    temporal_env(**variables)
    with pytest.raises(ValueError) as refused:
        Settings()
    assert message in str(refused.value)


async def test_the_cli_refuses_an_unknown_profile_before_connecting(
    temporal_env: Callable[..., None], tmp_path: Path
) -> None:
    profiles = tmp_path / "temporal.toml"
    profiles.write_text(PROFILES, encoding="utf-8")
    temporal_env(TEMPORAL_CONFIG_FILE=profiles, TEMPORAL_PROFILE="prdo")
    done = await run_aha(tmp_path, "status", "some-seller")
    assert done.returncode == 1
    assert f"aha: TEMPORAL_PROFILE: no profile 'prdo' in {profiles}" in done.stderr


# ---- API key ---------------------------------------------------------------------------------


async def test_an_api_key_turns_tls_on(
    temporal_env: Callable[..., None], dev_server: str, proxy: TlsProxy, ca_file: Path
) -> None:
    temporal_env(TEMPORAL_ADDRESS=dev_server)
    plain = await connect_within(Settings())  # the dev server speaks plaintext only
    assert await plain.service_client.check_health()

    temporal_env(TEMPORAL_API_KEY=API_KEY)
    settings = Settings()
    assert connection_target(settings) == (dev_server, "default", True, True, False)
    with pytest.raises(RuntimeError):  # TLS, as the key asks, to a plaintext port
        await connect_within(settings)

    temporal_env(TEMPORAL_ADDRESS=proxy.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH=ca_file)
    client = await connect_within(Settings())
    assert client.api_key == API_KEY
    assert await client.service_client.check_health()
    assert proxy.handshakes >= 1


# ---- the start-up log of the real processes ------------------------------------------------


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


async def run_aha(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aha.cli", *args,
        cwd=cwd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return subprocess.CompletedProcess(args, process.returncode, out.decode(), err.decode())


@asynccontextmanager
async def serving(log: Path, *args: str, ready: str) -> AsyncIterator[subprocess.Popen[str]]:
    """`aha ARGS` as a subprocess until `ready` appears in its log."""
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "aha.cli", *args],
            cwd=log.parent, env=child_env(), stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while ready not in log.read_text(encoding="utf-8"):
            if process.poll() is not None:
                raise AssertionError(f"`aha {' '.join(args)}` exited:\n{log.read_text()}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"`aha {' '.join(args)}` never said {ready!r}")
            await asyncio.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def connection_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for text in log.read_text(encoding="utf-8").splitlines():
        if text.startswith("{"):
            record = json.loads(text)
            if record.get("event") == "Temporal connection":
                lines.append(record)
    return lines


async def test_the_worker_logs_where_it_connects_and_never_the_key(
    temporal_env: Callable[..., None],
    proxy: TlsProxy,
    ca_file: Path,
    tmp_path: Path,
    mail_outbox: tuple[Path, int],
) -> None:
    """A real `aha worker` through TLS with an API key: its first lines say where, and the
    case it runs proves the connection works."""
    policy = tmp_path / "policy.toml"
    policy.write_text(ALWAYS_CALLABLE, encoding="utf-8")
    queue = f"tls-worker-{uuid.uuid4()}"
    temporal_env(
        TEMPORAL_ADDRESS=proxy.address,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH=ca_file,
        TEMPORAL_API_KEY=API_KEY,
        AHA_TASK_QUEUE=queue,
        AHA_DB=tmp_path / "aha.db",
        AHA_SMTP_HOST="127.0.0.1",
        AHA_SMTP_PORT=str(mail_outbox[1]),
        AHA_DIALER="manual",
    )
    log = tmp_path / "worker.log"
    async with serving(
        log, "worker", "--log-format", "json", "--policy", str(policy), ready="worker started"
    ):
        [line] = connection_lines(log)
        assert line["process"] == "worker"
        assert (line["address"], line["namespace"]) == (proxy.address, "default")
        assert (line["tls"], line["api_key"], line["client_cert"]) == (True, True, False)

        settings = Settings()
        store = SqliteProgrammeStore(settings.db_path)
        client = await connect_within(settings)
        service = CaseService(TemporalCases(client), store, queue)
        await a_case_runs(Cases(None, service, store, mail_outbox[0]))  # type: ignore[arg-type]
    assert API_KEY not in log.read_text(encoding="utf-8")
    assert proxy.handshakes >= 2  # the worker's connection and this test's


async def test_the_api_logs_where_it_connects_and_is_ready_through_tls(
    temporal_env: Callable[..., None], proxy: TlsProxy, ca_file: Path, tmp_path: Path
) -> None:
    temporal_env(
        TEMPORAL_ADDRESS=proxy.address,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH=ca_file,
        TEMPORAL_API_KEY=API_KEY,
        AHA_DB=tmp_path / "aha.db",
    )
    port = free_port()
    log = tmp_path / "api.log"
    async with serving(
        log, "--log-format", "json", "api", "--port", str(port), ready="Temporal connection"
    ):
        [line] = connection_lines(log)
        assert line["process"] == "api"
        assert (line["address"], line["namespace"], line["tls"]) == (proxy.address, "default", True)
        assert line["api_key"] is True
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                try:
                    ready = await http.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        assert ready.status_code == 200, ready.text
        assert ready.json()["detail"] == proxy.address
    assert API_KEY not in log.read_text(encoding="utf-8")
    assert proxy.handshakes >= 1
