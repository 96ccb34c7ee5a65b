"""Shared test parts: a real Temporal dev server with per-workflow time skipping, a real SMTP
server, a real SQLite directory (or a real PostgreSQL database), and the real worker. Only
the phone network is faked: tests play the specialist or the telephony provider who reports
each call's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from aha.adapters.postgres.pool import close_pools
from aha.adapters.sqlite.programme import SqliteProgrammeStore
from aha.adapters.stores import AppStore, open_case_board, open_programme_store
from aha.adapters.temporal.gateway import TemporalCases
from aha.board_reads import BoardReads
from aha.config import Settings
from aha.dev import free_port, search_attribute_args, temporal_binary
from aha.domain.models import CaseView, DetectionEvent, DetectionEventBody, PlanSubmission
from aha.domain.policy import Policy, parse_policy
from aha.domain.programme import Enrollment
from aha.mailcatcher import MailCatcher
from aha.ports import Dialer
from aha.service import CaseService, case_id_for
from tests.postgres import PostgresServer, running_postgres
from worker import build_worker

# Every hour callable and generous report timeouts: tests that are not about calling hours
# should not depend on the wall-clock time at which CI happens to run.
ALWAYS_CALLABLE = """
deadline = "72h"
call_report_timeout = "30m"
max_call_attempts_per_day = 4
reminders_before_deadline = ["24h", "4h"]
[calling_hours]
start = "00:00"
end = "24:00"
[call_retry_after]
no_answer = "3h"
busy = "20m"
voicemail = "24h"
"""


# Who hears of SLA breaches in the case tests (AHA_SUPERVISOR_EMAIL).
SUPERVISORS = ("sam@team.example", "lee@team.example")


def dev_server_args() -> list[str]:
    time_skipping = ["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"]
    return time_skipping + search_attribute_args()


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=dev_server_args(),
        data_converter=pydantic_data_converter,
    )
    async with environment:
        yield environment


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """This test process's own PostgreSQL server (each xdist worker starts its own)."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh database at the head revision, for one test: its URL (for AHA_DB)."""
    yield postgres.migrated_database()
    close_pools()  # the test's pools: connections must not pile up over the session


@pytest.fixture(params=["sqlite", "postgres"])
def aha_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """AHA_DB for a test that runs against both stores: an SQLite path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "aha.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="session")
def mail_outbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    outbox = tmp_path_factory.mktemp("outbox")
    port = free_port()
    with MailCatcher(outbox, port=port):
        yield outbox, port


def read_emails(outbox: Path, seller_id: str) -> list[EmailMessage]:
    messages = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["X-Aha-Seller"] == seller_id:
            messages.append(message)  # type: ignore[arg-type]
    return messages


_sellers = itertools.count(1)


@dataclass
class Cases:
    """One test's view of the system: the service the CLI uses, plus ways to move time."""

    env: WorkflowEnvironment
    service: CaseService
    store: AppStore
    outbox: Path
    mail: Any = None  # a StoppableMail, when the caller runs one it can take down
    db: str = ""  # AHA_DB: the SQLite path or the PostgreSQL URL the store and worker use
    reads: BoardReads | None = None  # the queue, call list and dashboard over the same store

    @property
    def client(self) -> Client:
        return self.env.client

    def new_seller(
        self,
        timezone: str = "America/New_York",
        phone: str | None = "+12125550123",
        marketplace: str = "US",
        enrolled: bool = True,
    ) -> str:
        """A seller in the directory; enrolled directly unless a test is about enrolment."""
        seller_id = f"s{next(_sellers)}-{uuid.uuid4().hex[:6]}"
        self.store.upsert(
            seller_id,
            email=f"{seller_id}@sellers.example",
            phone=phone,
            timezone=timezone,
            marketplace=marketplace,
            name=f"Seller {seller_id}",
        )
        if enrolled:
            today = datetime.now(UTC).date()
            self.store.save_enrollments([Enrollment(seller_id, "enrolled", today, ())])
        return seller_id

    def event(self, seller_id: str, **overrides: Any) -> DetectionEvent:
        fields: dict[str, Any] = {
            "event_id": f"evt-{uuid.uuid4().hex[:10]}",
            "seller_id": seller_id,
            "marketplace": "US",
            "issue_type": "ip_complaint",
            "severity": "high",
            "description": "Trademark complaint on two listings",
            "detected_at": datetime.now(UTC),
        }
        fields.update(overrides)
        return DetectionEvent(**fields)

    async def detect(self, seller_id: str, **overrides: Any) -> Any:
        # Cases start with their clock stopped: each test moves it on with `advance`.
        with self.env.with_time_skipping_disabled():  # type: ignore[attr-defined]
            return await self.service.detect(self.event(seller_id, **overrides))

    async def advance(self, seller_id: str, duration: timedelta) -> None:
        handle = self.client.get_workflow_handle(case_id_for(seller_id))
        await self.env.fast_forward(handle, duration)  # type: ignore[attr-defined]

    async def run_to_end(self, seller_id: str) -> CaseView:
        handle = self.client.get_workflow_handle(case_id_for(seller_id))
        await self.env.fast_forward(handle)  # type: ignore[attr-defined]
        return await self.service.status(seller_id)

    async def now(self, seller_id: str) -> datetime:
        handle = self.client.get_workflow_handle(case_id_for(seller_id))
        return await self.env.get_current_time(handle)

    async def view(self, seller_id: str) -> CaseView:
        return await self.service.status(seller_id)

    async def wait_for(
        self, seller_id: str, check: Callable[[CaseView], bool], timeout: float = 15.0
    ) -> CaseView:
        """Poll the case until `check` holds: activities run in real time."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            view = await self.view(seller_id)
            if check(view):
                return view
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"case never reached the expected state: {view}")
            await asyncio.sleep(0.1)

    async def wait_for_call(self, seller_id: str, number: int) -> CaseView:
        """Wait until call attempt `number` has been dialled and can take an outcome."""
        return await self.wait_for(
            seller_id,
            lambda v: (
                len(v.call_attempts) >= number and v.call_attempts[number - 1].placed_at is not None
            ),
        )

    async def wait_for_emails(
        self, seller_id: str, count: int, timeout: float = 15.0
    ) -> list[EmailMessage]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            messages = read_emails(self.outbox, seller_id)
            if len(messages) >= count:
                return messages
            if asyncio.get_running_loop().time() > deadline:
                kinds = [m["X-Aha-Kind"] for m in messages]
                raise AssertionError(f"expected {count} emails, got {kinds}")
            await asyncio.sleep(0.1)

    def emails(self, seller_id: str) -> list[EmailMessage]:
        return read_emails(self.outbox, seller_id)


CasesFactory = Callable[..., Awaitable[Cases]]


@asynccontextmanager
async def running_cases(
    env: WorkflowEnvironment,
    tmp_path: Path,
    mail: tuple[Path, int],
    policy: Policy,
    db: str | None = None,
    dialer: Dialer | None = None,
) -> AsyncIterator[Cases]:
    """The worker and the service over one store: by default an SQLite file in `tmp_path`;
    `db` names another AHA_DB (a PostgreSQL URL from `postgres_url`); `dialer` replaces the
    manual one."""
    outbox, port = mail
    settings = replace(
        Settings(),
        task_queue=f"cases-{uuid.uuid4()}",
        db_path=db or str(tmp_path / "aha.db"),
        smtp_host="127.0.0.1",
        smtp_port=port,
        dialer="manual",
        supervisor_emails=SUPERVISORS,
    )
    store = open_programme_store(settings) if db else SqliteProgrammeStore(settings.db_path)
    worker = build_worker(env.client, settings, policy, dialer=dialer)
    async with worker:
        service = CaseService(TemporalCases(env.client), store, settings.task_queue)
        reads = BoardReads(open_case_board(settings))
        yield Cases(env, service, store, outbox, db=settings.db_path, reads=reads)


@pytest.fixture
async def cases(
    env: WorkflowEnvironment, tmp_path: Path, mail_outbox: tuple[Path, int]
) -> AsyncIterator[Cases]:
    async with running_cases(env, tmp_path, mail_outbox, parse_policy(ALWAYS_CALLABLE)) as c:
        yield c


@pytest.fixture
def cases_with(
    env: WorkflowEnvironment, tmp_path: Path, mail_outbox: tuple[Path, int]
) -> Callable[[str], Any]:
    """`async with cases_with(policy_toml) as cases:` for tests that need their own policy."""

    def start(policy_toml: str) -> Any:
        return running_cases(env, tmp_path, mail_outbox, parse_policy(policy_toml))

    return start


ONE_CALL_A_DAY = ALWAYS_CALLABLE.replace(
    "max_call_attempts_per_day = 4", "max_call_attempts_per_day = 1"
)
DAYTIME_ONLY = ALWAYS_CALLABLE.replace('"00:00"', '"08:00"').replace('"24:00"', '"21:00"')


def a_plan() -> PlanSubmission:
    return PlanSubmission(
        root_cause="A supplier sent goods that did not match the listings",
        corrective_actions=["Removed the listings", "Audited stock"],
        preventive_measures=["Buy only from authorised distributors"],
    )


# ---- the HTTP service ------------------------------------------------------------------------

SERVICE_ROLES = ("detector", "rating", "telephony", "specialist", "supervisor")
STAFF_ROLES = ("specialist", "supervisor")  # their tokens carry an email


@dataclass
class Api:
    """The real HTTP service on a free port, over the same worker and directory as `cases`.

    It reaches Temporal through its own plain connection, so cases it starts run on the
    wall clock (no time skipping). Tokens live in a real tokens file; `seller()` adds one.
    """

    base_url: str
    cases: Cases
    tokens_file: Path
    tokens: dict[str, str]  # role -> token

    def _add_token(self, role: str, name: str) -> str:
        token = f"{name}-{uuid.uuid4().hex}"
        with self.tokens_file.open("a", encoding="utf-8") as file:
            file.write(f'\n[[token]]\nrole = "{role}"\nname = "{name}"\ntoken = "{token}"\n')
        return token

    def staff(self, role: str, name: str, email: str | None = None) -> str:
        """A token for a specialist or supervisor `name` (with an email for SLA warnings)."""
        token = f"{name}-{uuid.uuid4().hex}"
        line = f'email = "{email}"\n' if email else ""
        with self.tokens_file.open("a", encoding="utf-8") as file:
            file.write(f'\n[[token]]\nrole = "{role}"\nname = "{name}"\n{line}token = "{token}"\n')
        return token

    def seller(self, enrolled: bool = True, **contact: Any) -> tuple[str, str]:
        """A new seller in the directory and a token that signs in as that seller."""
        seller_id = self.cases.new_seller(enrolled=enrolled, **contact)
        return seller_id, self._add_token(f"seller:{seller_id}", seller_id)

    def http(self, token: str | None = None) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)

    def as_role(self, role: str) -> Any:
        return self.http(self.tokens[role])

    def detection(self, seller_id: str, **overrides: Any) -> dict[str, Any]:
        body = self.cases.event(seller_id, **overrides).model_dump(
            mode="json", include=set(DetectionEventBody.model_fields)
        )
        return body


@asynccontextmanager
async def running_api(
    cases: Cases,
    tmp_path: Path,
    temporal_address: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> AsyncIterator[Api]:
    """`overrides` are Settings fields of the API's own (e.g. its Twilio settings)."""
    import uvicorn

    from api.app import create_app

    tokens_file = tmp_path / "api-tokens.toml"
    tokens = {role: f"{role}-{uuid.uuid4().hex}" for role in SERVICE_ROLES}
    tokens_file.write_text(
        "".join(
            f'[[token]]\nrole = "{role}"\nname = "test-{role}"\ntoken = "{token}"\n'
            + (f'email = "test-{role}@aha.example"\n' if role in STAFF_ROLES else "")
            + "\n"
            for role, token in tokens.items()
        ),
        encoding="utf-8",
    )
    port = free_port()
    settings = replace(
        Settings(),
        temporal_address=temporal_address or cases.client.service_client.config.target_host,
        task_queue=cases.service.task_queue,
        db_path=cases.db,
        api_tokens_file=str(tokens_file),
        api_timeout_seconds=20,
        **(overrides or {}),
    )
    if settings.uses_postgres and not settings.session_secret:
        settings = replace(settings, session_secret=f"test-{uuid.uuid4().hex}")
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)
    try:
        yield Api(f"http://127.0.0.1:{port}", cases, tokens_file, tokens)
    finally:
        server.should_exit = True
        await serving


@pytest.fixture
async def api(cases: Cases, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(cases, tmp_path) as stack:
        yield stack


@pytest.fixture
async def api_cases_end_after(api: Api) -> AsyncIterator[None]:
    """Leave no case of the test running once its worker is gone."""
    yield
    for seller_id in api.cases.store.seller_page("", 10_000):
        with contextlib.suppress(Exception):
            handle = api.cases.client.get_workflow_handle(case_id_for(seller_id))
            await handle.terminate("test over")
