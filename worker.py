"""Composes the case worker: the workflows, their activities and the adapters behind them.

Nothing else lives here: connecting to Temporal is `aha.adapters.temporal.connection`."""

from __future__ import annotations

import asyncio
import gc
import signal
import zoneinfo
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.accounts import AccountActivities
from activities.board import BoardActivities
from activities.calls import CallActivities
from activities.email import EmailActivities
from activities.enrollment import EnrollmentActivities
from activities.staff import StaffActivities
from aha.adapters.dialers import ManualDialer, SimulatedDialer
from aha.adapters.smtp import SmtpMailer, SmtpSettings
from aha.adapters.stores import (
    check_database,
    open_call_consents,
    open_case_board,
    open_programme_store,
)
from aha.adapters.temporal.calls import SignalAnnouncer, UpdateOutcomes
from aha.adapters.temporal.connection import connect, connection_target
from aha.adapters.temporal.metrics import metrics_runtime
from aha.adapters.temporal.tracing import flush_tracing, tracing_on
from aha.adapters.twilio_calls import TwilioDialer
from aha.catalogue_file import load_catalogue
from aha.config import Settings
from aha.domain.policy import Policy
from aha.policy_file import load_policy
from aha.ports import Dialer
from aha.twilio_settings import twilio_account
from workflows.appeal import AppealWorkflow
from workflows.case import CaseWorkflow
from workflows.case_metrics import HISTOGRAM_BUCKETS
from workflows.enrollment import EnrollmentSweep
from workflows.notices import CaseNotices

log = structlog.get_logger(__name__)


def build_dialer(settings: Settings, client: Client) -> Dialer:
    if settings.dialer == "simulated":
        return SimulatedDialer(
            UpdateOutcomes(client),
            answer_probability=settings.simulated_answer_probability,
            delay_seconds=settings.simulated_delay_seconds,
        )
    if settings.dialer == "twilio":
        # A bad AHA_TWILIO_* setting stops the worker here.
        return TwilioDialer(twilio_account(settings), UpdateOutcomes(client))
    return ManualDialer()


def build_worker(
    client: Client,
    settings: Settings,
    policy: Policy,
    *,
    dialer: Dialer | None = None,
    executor: ThreadPoolExecutor | None = None,
) -> Worker:
    # Every worker reads time zones from the pinned tzdata package, not the host's copy, so
    # replays on any machine make the same calling-hours decisions.
    zoneinfo.reset_tzpath(to=[])
    store = open_programme_store(settings)
    mailer = SmtpMailer(
        SmtpSettings(host=settings.smtp_host, port=settings.smtp_port, sender=settings.email_from)
    )
    accounts = AccountActivities(store, lambda: policy, store.deliveries)
    emails = EmailActivities(
        mailer, store, store.deliveries, load_catalogue(settings.issue_catalog), settings.page_url
    )
    calls = CallActivities(
        store,
        dialer or build_dialer(settings, client),
        store.deliveries,
        SignalAnnouncer(client),
        consents=open_call_consents(settings),
    )
    enrollment = EnrollmentActivities(store, mailer, settings.page_url, lambda: policy)
    board = BoardActivities(open_case_board(settings))
    staff = StaffActivities(
        mailer, store.deliveries, settings.supervisor_emails, settings.console_url
    )
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[CaseWorkflow, CaseNotices, EnrollmentSweep, AppealWorkflow],
        activities=[
            accounts.current_policy,
            accounts.seller_profile,
            accounts.deactivate_account,
            accounts.seal_case,
            accounts.reactivate_account,
            emails.send_email,
            emails.deliver_email,
            calls.place_call,
            calls.dial,
            enrollment.evaluate_page,
            enrollment.plan_pages,
            board.record_case_row,
            staff.alert_staff,
        ],
        activity_executor=executor or ThreadPoolExecutor(max_workers=16),
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace_seconds),
    )


def settle_garbage_collector() -> None:
    """Keep full collections rare in a worker holding thousands of cached cases.

    Each full collection walks every cached workflow and stalled a new case's first task for
    up to 0.4 s (bench/api_bench.py, with ~2,500 cases open). Start-up objects live for the
    whole process, so they are frozen out of every scan, and the young generation is allowed
    to grow before it is collected, which makes promotions, and so full collections, rarer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


async def run_worker(settings: Settings) -> None:
    # The policy is read once, at start-up: a broken file fails here, before any case uses it.
    policy = load_policy(settings.policy_file)
    check_database(settings)  # and a database not at this aha's schema, before Temporal
    if settings.dialer == "twilio":
        twilio_account(settings)  # and a bad AHA_TWILIO_* setting, before any call
    # Logged before connecting, so a worker that cannot connect still says where it tried.
    log.info("Temporal connection", process="worker", **connection_target(settings)._asdict())
    # Per process, and before the client: the SDK's metrics and the cases' business metrics.
    runtime = metrics_runtime(settings, HISTOGRAM_BUCKETS)
    client = await connect(settings, runtime=runtime)
    worker = build_worker(client, settings, policy)
    settle_garbage_collector()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(worker.run())
    log.info(
        "worker started",
        task_queue=settings.task_queue,
        dialer=settings.dialer,
        policy_file=settings.policy_file or "default",
        shutdown_grace_s=settings.worker_shutdown_grace_seconds,
        metrics=settings.metrics_bind or "off",
        tracing="otlp" if tracing_on(settings) else "off",
    )
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
    if stop.is_set():
        # Stop polling at once; activities in flight get the grace to finish and report,
        # so a deploy costs no activity timeout. Workflow tasks simply move to another worker.
        log.info("worker stopping", grace_s=settings.worker_shutdown_grace_seconds)
        await worker.shutdown()
        log.info("worker stopped")
    stopping.cancel()
    try:
        await running
    finally:
        flush_tracing()


if __name__ == "__main__":
    from aha.logs import configure

    configure()
    asyncio.run(run_worker(Settings()))
