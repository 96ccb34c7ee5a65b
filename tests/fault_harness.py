"""Real processes for fault tests: a Temporal dev server and `aha worker` subprocesses that a
test can kill and restart, and an SMTP server it can take down and bring back on its port.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, GetSystemInfoRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from aha.dev import free_port, search_attribute_args, temporal_binary

# Processes are in their own sessions, so nothing else would end them if a test run dies.
_live: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_live):
        _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    _live.discard(process)


def _spawn(
    command: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        log.write(f"--- harness: start at {datetime.now(UTC).isoformat()} ---\n".encode())
        log.flush()
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=log_path.parent,
            start_new_session=True,
        )
    _live.add(process)
    return process


def tail(path: Path | str, lines: int = 40) -> str:
    """The last `lines` lines of a log file, for failure messages."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _wait_bindable(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as probe:
            # As Go's listeners do, so a TIME_WAIT left by the killed server does not count.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
        time.sleep(0.1)


# ---- Temporal ------------------------------------------------------------------------------


class TemporalServer:
    """`temporal server start-dev` on a fixed port over a SQLite file, so it survives a kill.

    Clients connected before a kill answer again as soon as restart() returns.
    """

    # Measured here (temporal CLI 1.9.1, server 1.32.0): start() on a new database 0.4 s
    # (2 s on a busy machine), kill() + restart() until ready 0.22 s, stop() 1.3 s. The port is
    # refused at once after a kill and can be bound again at once. Timers that fell due while
    # it was down fire on restart. But a worker that lived through an outage of 15 s or more
    # takes 5-7 s more to pick up tasks (the SDK backs off its polls); a new worker is ready
    # in 1 s.

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        *,
        namespace: str = "default",
        extra_args: Sequence[str] = (),
        ready_timeout: float = 60.0,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.namespace = namespace
        self.extra_args = list(extra_args)
        self.ready_timeout = ready_timeout
        self.db_path = self.directory / "temporal.db"
        self.log_path = self.directory / "temporal.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the Temporal server was never started")
        return self._process.pid

    def command(self) -> list[str]:
        return [
            temporal_binary(),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db-filename",
            str(self.db_path),
            "--log-level",
            "warn",
            *search_attribute_args(),
            *self.extra_args,
        ]

    async def start(self) -> None:
        """Spawn the server and return once a fresh client's calls are answered."""
        if self.alive:
            raise RuntimeError(f"the Temporal server on {self.address} is already running")
        _wait_bindable(self.port, timeout=10)
        process = self._process = _spawn(self.command(), self.log_path)
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the Temporal server exited ({process.returncode}):\n{tail(self.log_path)}"
                )
            try:
                await asyncio.wait_for(self._answers(), timeout=5)
                return
            # Connect and RPC errors alike: it listens before its frontend is healthy.
            except Exception:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(
                        f"the Temporal server on {self.address} did not answer within "
                        f"{self.ready_timeout:.0f}s:\n{tail(self.log_path)}"
                    ) from None
            await asyncio.sleep(0.2)

    async def _answers(self) -> None:
        client = await self.connect()
        service = client.workflow_service
        await service.get_system_info(GetSystemInfoRequest())
        await service.describe_namespace(DescribeNamespaceRequest(namespace=self.namespace))
        await client.count_workflows()

    async def connect(self) -> Client:
        """A new client for this server, with the project's data converter."""
        return await Client.connect(
            self.address, namespace=self.namespace, data_converter=pydantic_data_converter
        )

    def kill(self) -> None:
        """SIGKILL the server's process group, as a crash would, and wait for it to go."""
        if self._process is not None:
            _kill_group(self._process)

    async def restart(self) -> None:
        """Start again on the same port and database file (killing it first if it runs)."""
        self.kill()
        await self.start()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it is still there after 10 s."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        _kill_group(process)

    async def __aenter__(self) -> TemporalServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()


# ---- the worker ----------------------------------------------------------------------------


def aha_command() -> list[str]:
    """The `aha` program of this venv, as tests/test_cli_e2e.py finds it."""
    beside_python = Path(sys.executable).parent / "aha"
    if beside_python.exists():
        return [str(beside_python)]
    return [sys.executable, "-m", "aha.cli"]


class WorkerProcess:
    """`aha worker --policy FILE` as a subprocess in its own session.

    The environment is the test process's, without its AHA_* and TEMPORAL_* variables, plus
    `env`. Every start appends to the same `<directory>/worker-<n>.log`.
    """

    def __init__(
        self,
        directory: Path,
        policy_file: Path,
        env: Mapping[str, str],
        *,
        n: int | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.policy_file = Path(policy_file)
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AHA_", "TEMPORAL_"))
        } | dict(env)
        if n is None:
            n = 1
            while (self.directory / f"worker-{n}.log").exists():
                n += 1
        self.n = n
        self.log_path = self.directory / f"worker-{n}.log"
        self.log_path.touch()
        self.ready_timeout = ready_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the worker was never started")
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def start(self) -> None:
        if self.alive:
            raise RuntimeError(f"worker {self.n} is already running (pid {self.pid})")
        # wait_ready looks only at what this run writes, not at an earlier run's lines.
        self._log_offset = self.log_path.stat().st_size
        command = [*aha_command(), "worker", "--policy", str(self.policy_file)]
        self._process = _spawn(command, self.log_path, self.env)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until this run logged "worker started"; fail with the log tail otherwise."""
        process = self._process
        if process is None:
            raise RuntimeError("the worker was never started")
        limit = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                if b"worker started" in log.read():
                    return
            if process.poll() is not None:
                raise AssertionError(
                    f"worker {self.n} exited ({process.returncode}) before it started:\n"
                    f"{tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"worker {self.n} did not start within {limit:.0f}s:\n{tail(self.log_path)}"
                )
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the worker's process group and wait for it to go."""
        if self._process is not None:
            _kill_group(self._process)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, as a deploy would; the exit code once it has gone (negative: a signal).

        A worker still there after `timeout` is killed, and that fails the caller.
        """
        process = self._process
        if process is None:
            raise RuntimeError("the worker was never started")
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                raise AssertionError(
                    f"worker {self.n} was still running {timeout:.0f}s after SIGTERM:\n"
                    f"{tail(self.log_path)}"
                ) from None
        _live.discard(process)
        return process.returncode

    def restart(self) -> None:
        """Start again with the same log, policy and environment (killing it first if it runs)."""
        self.kill()
        self.start()

    def __enter__(self) -> WorkerProcess:
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


# ---- mail ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    received_at: datetime
    message_id: str
    kind: str
    seller_id: str
    subject: str


class _KeepingHandler:
    def __init__(self, messages: list[ReceivedMail], lock: threading.Lock) -> None:
        self._messages = messages
        self._lock = lock
        self.delay = 0.0  # a slow mail server keeps each sender's activity in flight
        self.data_started: list[datetime] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_started.append(datetime.now(UTC))
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.content
        raw = content if isinstance(content, bytes) else content.encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        received = ReceivedMail(
            received_at=datetime.now(UTC),
            message_id=str(message.get("Message-ID", "")),
            kind=str(message.get("X-Aha-Kind", "")),
            seller_id=str(message.get("X-Aha-Seller", "")),
            subject=str(message.get("Subject", "")),
        )
        with self._lock:
            self._messages.append(received)
        return "250 Message accepted for delivery"


class StoppableMail:
    """aiosmtpd on 127.0.0.1 that can go down and come back on the same port.

    While stopped nothing listens, so senders get "connection refused" at once. Every
    message accepted by any run is kept.
    """

    def __init__(self, port: int | None = None) -> None:
        self._port = port or free_port()
        self._messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._handler = _KeepingHandler(self._messages, self._lock)
        self._controller: Controller | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def running(self) -> bool:
        return self._controller is not None

    def slow_down(self, seconds: float) -> None:
        """Hold every message this long before accepting it (0: accept at once)."""
        self._handler.delay = seconds

    @property
    def data_started(self) -> list[datetime]:
        """When each message's DATA began, accepted or not yet."""
        return list(self._handler.data_started)

    def start(self) -> None:
        if self._controller is not None:
            raise RuntimeError(f"the mail server on port {self._port} is already running")
        # A stopped Controller has closed its event loop, so every start needs a new one.
        # A fixed server_hostname spares aiosmtpd a getfqdn() lookup on each start.
        controller = Controller(
            self._handler, hostname="127.0.0.1", port=self._port, server_hostname="localhost"
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def for_seller(self, seller_id: str) -> list[ReceivedMail]:
        return [m for m in self.messages() if m.seller_id == seller_id]

    def __enter__(self) -> StoppableMail:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
