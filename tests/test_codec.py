"""Personal data in Temporal: with AHA_CODEC_KEYS_FILE set, what the Temporal server stores is
AES-GCM ciphertext; the codec server and the `temporal` CLI show it decoded to whoever holds
the token; a rotated ring still reads old cases; replay works through the codec.

Everything is real: the suite's dev server, the worker, `aha` subprocesses, HTTP over sockets.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from aha.adapters.sqlite.programme import SqliteProgrammeStore
from aha.adapters.temporal.codec import EncryptionCodec, PayloadDecryptionError, data_converter_for
from aha.adapters.temporal.connection import connect
from aha.adapters.temporal.gateway import TemporalCases
from aha.adapters.temporal.keyring import add_key, load_key_ring
from aha.config import Settings
from aha.dev import temporal_binary
from aha.domain.models import CallReport, DetectionEvent, PlanSubmission, Resolution
from aha.domain.policy import parse_policy
from aha.domain.programme import Enrollment
from aha.mailcatcher import OutboxHandler
from aha.service import CaseService, case_id_for
from tests.conftest import ALWAYS_CALLABLE, free_port
from worker import build_worker
from workflows.case import CaseWorkflow
from workflows.notices import CaseNotices

AHA = [sys.executable, "-m", "aha.cli"]
ROOT = Path(__file__).resolve().parent.parent
DESCRIPTION = "Counterfeit claim from Brand Owner Zebulon on listing B0SECRET42"
ROOT_CAUSE = "Our warehouse in Quillfield mixed up two suppliers"
NOTE = "Listings relaunched after the Quillfield audit"


def detection(seller_id: str) -> DetectionEvent:
    return DetectionEvent(
        event_id=f"evt-{uuid.uuid4().hex[:10]}",
        seller_id=seller_id,
        marketplace="US",
        issue_type="ip_complaint",
        severity="high",
        description=DESCRIPTION,
        detected_at=datetime.now(UTC),
    )


def aha_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AHA_", "TEMPORAL_"))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env | extra


def aha(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AHA, *args], env=aha_env(**extra), capture_output=True, text=True, timeout=60
    )


# ---- an encrypted stack on the suite's dev server ---------------------------------------------


@dataclass
class Encrypted:
    client: Client  # through `connect`, so through data_converter_for, as every aha process
    raw: Client  # the same server, no codec: what an operator with database access sees
    service: CaseService
    store: SqliteProgrammeStore
    settings: Settings

    def new_seller(self, domain: str = "private.example") -> tuple[str, str, str]:
        """An enrolled seller, with contact data no history may show."""
        seller_id = f"enc-{uuid.uuid4().hex[:8]}"
        email, phone = f"{seller_id}@{domain}", "+12125550199"
        self.store.upsert(
            seller_id, email=email, phone=phone, timezone="America/New_York", marketplace="US"
        )
        self.store.save_enrollments([Enrollment(seller_id, "enrolled", date.today(), ())])
        return seller_id, email, phone

    async def raw_history(self, seller_id: str) -> WorkflowHistory:
        return await self.raw.get_workflow_handle(case_id_for(seller_id)).fetch_history()


@asynccontextmanager
async def encrypted_stack(
    env: WorkflowEnvironment, keys: Path, db: Path, mail_port: int, task_queue: str
) -> AsyncIterator[Encrypted]:
    settings = replace(
        Settings(),
        temporal_address=env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        task_queue=task_queue,
        db_path=str(db),
        smtp_host="127.0.0.1",
        smtp_port=mail_port,
        dialer="manual",
        codec_keys_file=str(keys),
    )
    client = await connect(settings)
    store = SqliteProgrammeStore(settings.db_path)
    worker = build_worker(client, settings, parse_policy(ALWAYS_CALLABLE))
    async with worker:
        service = CaseService(TemporalCases(client), store, settings.task_queue)
        yield Encrypted(client, env.client, service, store, settings)


REFUSED_DOMAIN = "refused.example"


class RefusingMailServer(OutboxHandler):
    """A mail server that refuses one domain: its emails fail for good, so the case's history
    holds an activity failure with a message and a stack trace."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith("@" + REFUSED_DOMAIN):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
async def stack(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Encrypted]:
    keys = tmp_path / "codec-keys.json"
    add_key(keys)
    port = free_port()
    mail = Controller(RefusingMailServer(tmp_path / "outbox"), hostname="127.0.0.1", port=port)
    mail.start()
    try:
        async with encrypted_stack(
            env, keys, tmp_path / "aha.db", port, f"codec-{uuid.uuid4()}"
        ) as running:
            yield running
    finally:
        mail.stop()


# Payloads the SDK writes in clear by design: search attributes, which the server indexes (none
# holds contact data, see aha/search_attributes.py), and the SDK's own marker bookkeeping
# (a local activity's sequence number and type, a patch id).
SDK_MARKER_FIELDS = ("data", "patch-data")


def payloads_in(node: Any, kind: str = "user") -> Iterator[tuple[dict[str, Any], str]]:
    """Every payload of a history in its JSON form, with its kind: "user", "searchable" or
    "sdk"."""
    if isinstance(node, dict):
        if "data" in node and "metadata" in node:
            yield node, kind
            return
        for key, value in node.items():
            inner = kind
            if key == "searchAttributes":
                inner = "searchable"
            elif key == "details" and "markerName" in node:
                for field, payloads in value.items():
                    sdk = field in SDK_MARKER_FIELDS
                    yield from payloads_in(payloads, "sdk" if sdk else kind)
                continue
            yield from payloads_in(value, inner)
    elif isinstance(node, list):
        for value in node:
            yield from payloads_in(value, kind)


def user_payloads(history: dict[str, Any]) -> list[dict[str, Any]]:
    return [payload for payload, kind in payloads_in(history) if kind == "user"]


def clear_bytes(payloads: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(p.get("data", "")) for p in payloads)


def metadata(payload: dict[str, Any], key: str) -> str:
    return base64.b64decode(payload["metadata"].get(key, "")).decode()


async def first_call_placed(stack: Encrypted, seller_id: str) -> None:
    deadline = time.monotonic() + 20
    while not (view := await stack.service.status(seller_id)).call_attempts or not (
        view.call_attempts[0].placed_at
    ):
        assert time.monotonic() < deadline, view
        await asyncio.sleep(0.1)


async def run_a_case(stack: Encrypted) -> tuple[str, str, str]:
    """A case through detection, a call, a plan and a resolution: seller data and timeline
    text pass through every kind of payload (update arguments, results, activity inputs)."""
    seller_id, email, phone = stack.new_seller()
    event = detection(seller_id)
    await stack.service.detect(event)
    await first_call_placed(stack, seller_id)
    await stack.service.report_call_outcome(seller_id, CallReport(attempt=1, outcome="answered"))
    await stack.service.submit_plan(
        seller_id,
        PlanSubmission(
            root_cause=ROOT_CAUSE,
            corrective_actions=["Re-audit stock"],
            preventive_measures=["Buy only from brand owners"],
        ),
    )
    await stack.service.resolve(seller_id, Resolution(issue_id="I1", note=NOTE))
    return seller_id, email, phone


# ---- what the server holds --------------------------------------------------------------------


async def test_history_read_raw_holds_only_ciphertext(stack: Encrypted) -> None:
    seller_id, email, phone = await run_a_case(stack)
    assert (await stack.service.status(seller_id)).issues[0].resolution == NOTE, (
        "aha itself reads its data in clear"
    )
    refused, refused_email, _ = stack.new_seller(REFUSED_DOMAIN)
    await stack.service.detect(detection(refused))
    deadline = time.monotonic() + 20
    while not failed_activities(json.loads((await stack.raw_history(refused)).to_json())):
        assert time.monotonic() < deadline, "the refused email never failed"
        await asyncio.sleep(0.2)

    current = load_key_ring(stack.settings.codec_keys_file or "").current
    # (The failure's type, e.g. EmailRejected, stays readable: retry policies name it.)
    failure_text = ["the mail server refused", "Traceback", "smtp.py"]
    for case, secrets in (
        (seller_id, [email, phone, DESCRIPTION, ROOT_CAUSE, NOTE, "B0SECRET42", "Quillfield"]),
        (refused, [refused_email, DESCRIPTION, *failure_text]),
    ):
        raw = (await stack.raw_history(case)).to_json()
        history = json.loads(raw)
        every_payload = clear_bytes([p for p, _ in payloads_in(history)])
        for secret in secrets:
            assert secret not in raw, f"{secret!r} is in clear in the history of {case}"
            assert secret.encode() not in every_payload, f"{secret!r} is in a clear payload"
        encrypted = user_payloads(history)
        assert len(encrypted) > 5
        assert {metadata(p, "encoding") for p in encrypted} == {"binary/encrypted"}
        assert {metadata(p, "encryption-key-id") for p in encrypted} == {current}
        assert case.encode() not in clear_bytes(encrypted)
        clear_kinds = {kind for _, kind in payloads_in(history)} - {"user"}
        assert clear_kinds <= {"searchable", "sdk"}

    [failure] = failed_activities(json.loads((await stack.raw_history(refused)).to_json()))
    assert failure["message"] == "Encoded failure" and not failure.get("stackTrace")
    assert metadata(failure["encodedAttributes"], "encoding") == "binary/encrypted"
    decoded = await stack.client.data_converter.decode_failure(
        json_format.ParseDict(failure, Failure())
    )
    assert "refused" in str(decoded), "the real message is inside, for whoever holds the key"


def failed_activities(history: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        event["activityTaskFailedEventAttributes"]["failure"]
        for event in history["events"]
        if event["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_FAILED"
    ]


# ---- the codec server -------------------------------------------------------------------------


@dataclass
class CodecServer:
    url: str
    token: str
    process: subprocess.Popen[str]

    def post(self, route: str, body: Any, token: str | None = "") -> httpx.Response:
        headers = {"Content-Type": "application/json", "X-Namespace": "default"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token or self.token}"
        return httpx.post(f"{self.url}{route}", json=body, headers=headers, timeout=10)


def wait_listening(port: int, process: subprocess.Popen[Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            raise AssertionError(
                f"the codec server exited: {process.stderr.read() if process.stderr else ''}"
            )
        assert time.monotonic() < deadline, "the codec server never listened"
        time.sleep(0.1)


@asynccontextmanager
async def codec_server(keys: Path) -> AsyncIterator[CodecServer]:
    port, token = free_port(), uuid.uuid4().hex
    process = subprocess.Popen(
        [*AHA, "codec-server", "--port", str(port)],
        env=aha_env(AHA_CODEC_KEYS_FILE=str(keys), AHA_CODEC_AUTH_TOKEN=token),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_listening(port, process)
        yield CodecServer(f"http://127.0.0.1:{port}", token, process)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


async def test_codec_server_decodes_the_history_for_the_token_holder(stack: Encrypted) -> None:
    seller_id, _, _ = await run_a_case(stack)
    history = json.loads((await stack.raw_history(seller_id)).to_json())
    encrypted = user_payloads(history)
    async with codec_server(Path(stack.settings.codec_keys_file or "")) as server:
        answer = server.post("/decode", {"payloads": encrypted})
        assert answer.status_code == 200, answer.text
        decoded = answer.json()["payloads"]
        assert len(decoded) == len(encrypted)
        assert {metadata(p, "encoding") for p in decoded} <= {"json/plain", "binary/null"}
        clear = "".join(base64.b64decode(p.get("data", "")).decode() for p in decoded)
        for text in (seller_id, DESCRIPTION, ROOT_CAUSE, NOTE):
            assert text in clear, f"{text!r} decodes back"
        json.loads(base64.b64decode(decoded[0]["data"]))  # each is the original JSON document

        # Encode then decode gives back the very payload.
        original = {
            "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
            "data": base64.b64encode(b'{"email":"a@b.example"}').decode(),
        }
        sealed = server.post("/encode", {"payloads": [original]}).json()["payloads"]
        assert metadata(sealed[0], "encoding") == "binary/encrypted"
        assert b"a@b.example" not in base64.b64decode(sealed[0]["data"])
        assert server.post("/decode", {"payloads": sealed}).json()["payloads"] == [original]

        for route in ("/decode", "/encode"):
            assert server.post(route, {"payloads": encrypted}, token=None).status_code == 401
            wrong = server.post(route, {"payloads": encrypted}, token="not-" + server.token)
            assert wrong.status_code == 401 and "payloads" not in wrong.text
        bad = server.post("/decode", {"payload": "nonsense"})
        assert bad.status_code == 400 and "payloads" in bad.json()["detail"]
        not_text = httpx.post(
            f"{server.url}/decode",
            content=b"\xff\xfe{",
            headers={"Authorization": f"Bearer {server.token}"},
        )
        assert not_text.status_code == 400 and "payloads" in not_text.json()["detail"]
        cut_short = dict(encrypted[0], data=base64.b64encode(b"short").decode())
        refused = server.post("/decode", {"payloads": [cut_short]})
        assert refused.status_code == 400 and "too few" in refused.text, refused.text

        # The Web UI's preflight: its origin, its method and headers, and no token.
        for origin in ("http://localhost:8233", "http://127.0.0.1:8233"):
            preflight = httpx.options(
                f"{server.url}/decode",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
                },
            )
            assert preflight.status_code == 200, preflight.text
            assert preflight.headers["access-control-allow-origin"] == origin
            allowed = preflight.headers["access-control-allow-headers"].lower()
            assert {"content-type", "x-namespace", "authorization"} <= set(
                allowed.replace(" ", "").split(",")
            )
        stranger = httpx.options(
            f"{server.url}/decode",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in stranger.headers
        cors = httpx.post(
            f"{server.url}/decode",
            json={"payloads": encrypted[:1]},
            headers={"Origin": "http://localhost:8233", "Authorization": f"Bearer {server.token}"},
        )
        assert cors.headers["access-control-allow-origin"] == "http://localhost:8233"

        # The temporal CLI shows the history decoded through the codec server, and only so.
        show = [
            shutil.which("temporal", path=str(Path(sys.executable).parent)) or temporal_binary(),
            "workflow",
            "show",
            "--workflow-id",
            case_id_for(seller_id),
            "--address",
            stack.settings.temporal_address,
            "--detailed",
            "--command-timeout",
            "5s",
        ]
        plain = subprocess.run(show, capture_output=True, text=True, timeout=60)
        assert plain.returncode == 0, plain.stderr
        assert "binary/encrypted" in base64_lines(plain.stdout)
        assert ROOT_CAUSE not in plain.stdout and NOTE not in plain.stdout
        through = subprocess.run(
            [*show, "--codec-endpoint", server.url, "--codec-auth", f"Bearer {server.token}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert through.returncode == 0, through.stderr
        assert f"root_cause: {ROOT_CAUSE}" in through.stdout
        assert NOTE in through.stdout and DESCRIPTION in through.stdout
        refused = subprocess.run(
            [*show, "--codec-endpoint", server.url], capture_output=True, text=True, timeout=60
        )
        assert refused.returncode != 0 and ROOT_CAUSE not in refused.stdout


def base64_lines(text: str) -> str:
    """The CLI prints metadata values base64-encoded: the decodable ones, decoded."""
    out = []
    for line in text.splitlines():
        value = line.rpartition(": ")[2]
        try:
            out.append(base64.b64decode(value, validate=True).decode())
        except ValueError:
            continue
    return "\n".join(out)


# ---- rotation ---------------------------------------------------------------------------------


async def test_a_rotated_ring_reads_and_continues_old_cases(
    env: WorkflowEnvironment, tmp_path: Path, mail_outbox: tuple[Path, int]
) -> None:
    keys, db, queue = tmp_path / "keys.json", tmp_path / "aha.db", f"rotate-{uuid.uuid4()}"
    key_a, _ = add_key(keys)
    async with encrypted_stack(env, keys, db, mail_outbox[1], queue) as before:
        seller_id, _, _ = before.new_seller()
        await before.service.detect(detection(seller_id))
        await first_call_placed(before, seller_id)
    # Every worker under key A has stopped: what the history holds so far was written with A.
    old_events = len((await before.raw_history(seller_id)).events)

    rotated = aha("codec", "keygen", "--file", str(keys), "--json")
    assert rotated.returncode == 0, rotated.stderr
    key_b = json.loads(rotated.stdout)["key_id"]
    assert key_b != key_a and load_key_ring(keys).current == key_b
    assert set(load_key_ring(keys).keys) == {key_a, key_b}

    # A new worker and client with the new ring: the case was written under key A only.
    async with encrypted_stack(env, keys, db, mail_outbox[1], queue) as after:
        view = await after.service.status(seller_id)  # a query, replayed from A's payloads
        assert view.issues[0].description == DESCRIPTION
        await after.service.report_call_outcome(  # an update, as the telephony provider sends
            seller_id, CallReport(attempt=1, outcome="answered")
        )
        await after.service.submit_plan(
            seller_id,
            PlanSubmission(
                root_cause=ROOT_CAUSE, corrective_actions=["a"], preventive_measures=["b"]
            ),
        )  # update
        await after.service.resolve(seller_id, Resolution(issue_id="I1", note=NOTE))
        history = json.loads((await after.raw_history(seller_id)).to_json())
        events = history["events"]
        ids_before = {
            metadata(p, "encryption-key-id") for p in user_payloads({"events": events[:old_events]})
        }
        ids_after = {
            metadata(p, "encryption-key-id") for p in user_payloads({"events": events[old_events:]})
        }
        assert ids_before == {key_a}
        assert ids_after == {key_b}, "new payloads use the new current key"
        assert (await after.service.status(seller_id)).issues[0].resolution == NOTE


async def test_a_key_missing_from_the_ring_is_named() -> None:
    ring_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"ring-{uuid.uuid4().hex}"
    ring_dir.mkdir()
    try:
        old_id, old_ring = add_key(ring_dir / "old.json")
        _, new_ring = add_key(ring_dir / "new.json")
        sealed = await EncryptionCodec(old_ring).encode([Payload(data=b'"x"')])
        with pytest.raises(
            PayloadDecryptionError, match=rf"encrypted with key '{old_id}'.*does not hold"
        ):
            await EncryptionCodec(new_ring).decode(sealed)
    finally:
        shutil.rmtree(ring_dir)


# ---- replay -----------------------------------------------------------------------------------


async def test_replay_through_the_codec(stack: Encrypted) -> None:
    seller_id, _, _ = await run_a_case(stack)
    history = await stack.raw_history(seller_id)
    workflows = [CaseWorkflow, CaseNotices]
    converter = data_converter_for(stack.settings)
    await Replayer(workflows=workflows, data_converter=converter).replay_workflow(history)
    with pytest.raises(Exception, match="binary/encrypted"):
        await Replayer(workflows=workflows, data_converter=pydantic_data_converter).replay_workflow(
            history
        )


def test_without_a_key_ring_the_converter_is_unchanged() -> None:
    assert data_converter_for(replace(Settings(), codec_keys_file=None)) is pydantic_data_converter


# ---- keygen and bad rings ---------------------------------------------------------------------


def test_keygen_creates_then_adds_and_keeps_the_file_private(tmp_path: Path) -> None:
    keys = tmp_path / "ring.json"
    first = aha("codec", "keygen", "--file", str(keys))
    assert first.returncode == 0, first.stderr
    ring = load_key_ring(keys)
    assert first.stdout.split()[0] == ring.current
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    second = aha("codec", "keygen", "--file", str(keys))
    assert second.returncode == 0, second.stderr
    again = load_key_ring(keys)
    assert again.current == second.stdout.split()[0] != ring.current
    assert again.keys[ring.current] == ring.keys[ring.current], "the old key is kept"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    for key in again.keys.values():
        assert base64.b64encode(key).decode() not in first.stdout + second.stdout


def test_keygen_keeps_the_mode_a_deployment_gave_the_ring(tmp_path: Path) -> None:
    # A ring mounted into containers whose user must read it: a rotation must not lock it.
    keys = tmp_path / "ring.json"
    assert aha("codec", "keygen", "--file", str(keys)).returncode == 0
    keys.chmod(0o644)
    rotated = aha("codec", "keygen", "--file", str(keys))
    assert rotated.returncode == 0, rotated.stderr
    assert stat.S_IMODE(keys.stat().st_mode) == 0o644
    assert len(load_key_ring(keys).keys) == 2


# Each long-running process and one short command; "PORT" becomes a free port.
COMMANDS = {
    "worker": ["worker"],
    "api": ["api", "--port", "PORT"],
    "list": ["list"],
    "codec-server": ["codec-server", "--port", "PORT"],
}
BAD_RINGS = {
    "missing": (None, "no such file"),
    "not JSON": ("{", "not valid JSON"),
    "short key": ('{"current": "a", "keys": {"a": "AAAA"}}', "3 bytes; AES-256-GCM needs 32"),
    "no current": (
        '{"keys": {"a": "' + base64.b64encode(b"k" * 32).decode() + '"}}',
        "no current key",
    ),
    "current unknown": (
        '{"current": "b", "keys": {"a": "' + base64.b64encode(b"k" * 32).decode() + '"}}',
        "the current key 'b' is not in",
    ),
    "not base64": ('{"current": "a", "keys": {"a": "%%%"}}', "not valid base64"),
    "a directory": ("DIR", "cannot read it"),
}


# Every process refuses a missing ring; each other reason is tried on one of them in turn.
BAD_RING_RUNS = [("missing", name) for name in COMMANDS] + [
    (ring, list(COMMANDS)[i % len(COMMANDS)]) for i, ring in enumerate(list(BAD_RINGS)[1:])
]


@pytest.mark.parametrize(
    ("case", "command"), BAD_RING_RUNS, ids=[f"{r}-{c}" for r, c in BAD_RING_RUNS]
)
def test_a_bad_ring_stops_every_process_naming_the_setting(
    tmp_path: Path, case: str, command: str
) -> None:
    content, reason = BAD_RINGS[case]
    keys = tmp_path / "ring.json"
    if content == "DIR":
        keys.mkdir()
    elif content is not None:
        keys.write_text(content, encoding="utf-8")
    before = keys.read_bytes() if keys.is_file() else None
    args = [str(free_port()) if arg == "PORT" else arg for arg in COMMANDS[command]]
    out = aha(*args, AHA_CODEC_KEYS_FILE=str(keys), TEMPORAL_ADDRESS="127.0.0.1:1")
    assert out.returncode == 1, (command, out.stdout, out.stderr)
    assert f"AHA_CODEC_KEYS_FILE={keys}: " in out.stderr and reason in out.stderr, out.stderr
    if before is not None:
        keygen = aha("codec", "keygen", "--file", str(keys))
        assert keygen.returncode == 1 and reason in keygen.stderr, keygen.stderr
        assert keys.read_bytes() == before, "a bad ring is left as it was"


async def _raw_history(address: str, workflow_id: str) -> dict[str, Any]:
    client = await Client.connect(address)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    document: dict[str, Any] = json.loads(history.to_json())
    return document


# ---- aha dev --encrypt ------------------------------------------------------------------------


def test_dev_stack_encrypts_and_wires_the_ui_to_the_codec_server(tmp_path: Path) -> None:
    temporal, ui, smtp, api, codec = (free_port() for _ in range(5))
    data = tmp_path / "data"
    log_path = tmp_path / "dev.log"
    command = [
        *AHA, "dev", "--encrypt", "--no-demo", "--dialer", "manual", "--data-dir", str(data),
        "--temporal-port", str(temporal), "--ui-port", str(ui), "--smtp-port", str(smtp),
        "--api-port", str(api), "--codec-port", str(codec),
    ]  # fmt: skip
    with open(log_path, "w", encoding="utf-8") as log:
        dev = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=aha_env())
    try:
        deadline = time.monotonic() + 90
        while "aha dev is up" not in log_path.read_text():
            assert dev.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.25)
        text = log_path.read_text()
        assert f"codec_server=http://127.0.0.1:{codec}" in text, "aha dev says where it is"
        keys = data / "codec-keys.json"
        assert stat.S_IMODE(keys.stat().st_mode) == 0o600 and load_key_ring(keys).current

        wait_listening(codec, dev)
        settings = httpx.get(f"http://127.0.0.1:{ui}/api/v1/settings", timeout=10).json()
        assert settings["Codec"]["Endpoint"] == f"http://127.0.0.1:{codec}", settings["Codec"]
        plain = {"metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                 "data": base64.b64encode(b'"hello"').decode()}  # fmt: skip
        origin = {"Origin": f"http://localhost:{ui}"}
        sealed = httpx.post(f"http://127.0.0.1:{codec}/encode", json={"payloads": [plain]},
                            headers=origin, timeout=10)  # fmt: skip
        assert sealed.headers["access-control-allow-origin"] == origin["Origin"]
        opened = httpx.post(f"http://127.0.0.1:{codec}/decode", json=sealed.json(), timeout=10)
        assert opened.json() == {"payloads": [plain]}

        # A case started from another shell with the stack's ring: the dev worker runs it, and
        # the server holds only ciphertext.
        shell = {"AHA_DB": str(data / "aha.db"), "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
                 "AHA_CODEC_KEYS_FILE": str(keys)}  # fmt: skip
        seller = f"dev-{uuid.uuid4().hex[:6]}"
        upsert = ["seller", "upsert", seller, "--email", f"{seller}@private.example",
                  "--timezone", "Europe/Paris"]  # fmt: skip
        assert aha(*upsert, **shell).returncode == 0
        detect = aha("detect", seller, "--issue-type", "ip_complaint", "--severity", "high",
                     "--description", DESCRIPTION, **shell)  # fmt: skip
        assert detect.returncode == 0, detect.stderr
        history = asyncio.run(_raw_history(f"127.0.0.1:{temporal}", case_id_for(seller)))
        encrypted = user_payloads(history)
        assert encrypted and {metadata(p, "encoding") for p in encrypted} == {"binary/encrypted"}
        assert DESCRIPTION.encode() not in clear_bytes([p for p, _ in payloads_in(history)])
    finally:
        dev.send_signal(signal.SIGINT)
        code = dev.wait(timeout=30)
    assert code == 0, log_path.read_text()[-2000:]
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", codec)) != 0, "the codec server stopped too"
