"""The `aha` command line: every actor's action on a case, plus `dev` and `worker`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.service import RPCError

from aha.adapters.stores import (
    AppStore,
    check_database,
    open_call_consents,
    open_case_board,
    open_programme_store,
)
from aha.adapters.temporal.connection import connect
from aha.adapters.temporal.gateway import TemporalCases
from aha.adapters.temporal.keyring import load_key_ring
from aha.board_reads import BoardReads, PendingCall
from aha.catalogue_file import load_catalogue
from aha.config import Settings
from aha.domain import case_text, preferred
from aha.domain.appeal_models import AppealReview
from aha.domain.board import OPEN_STATUSES, QueueFilter, QueueItem
from aha.domain.catalogue import Catalogue, CatalogueError
from aha.domain.consent import DoNotCall, InvalidDoNotCall, dnc_number
from aha.domain.contact import InvalidContact
from aha.domain.models import (
    CALL_OUTCOMES,
    CASE_STATUSES,
    SPECIALIST_NAME_PATTERN,
    CallbackRequest,
    CallReport,
    DetectionEvent,
    Extension,
    PlanSubmission,
    Resolution,
    Review,
    SweepResult,
)
from aha.domain.policy import PolicyError, parse_duration
from aha.domain.programme import InvalidReading
from aha.logs import configure
from aha.policy_file import load_policy
from aha.service import (
    MARKETPLACE_PATTERN,
    CaseError,
    CaseService,
    ContactUpdate,
    change_contact,
    change_preferred_windows,
)
from api.auth import TokenFileError, load_tokens


class UsageError(Exception):
    pass


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _emit(args: argparse.Namespace, value: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(_jsonable(value), indent=2))
    else:
        print(text)


async def _service(settings: Settings, catalogue: Catalogue | None = None) -> CaseService:
    check_database(settings)  # a database not ready stops the command before Temporal does
    try:
        client = await connect(settings)
    except RuntimeError as err:
        raise CaseError(f"cannot reach Temporal at {settings.temporal_address}: {err}") from err
    store = open_programme_store(settings)
    return CaseService(TemporalCases(client), store, settings.task_queue, catalogue)


def _board_reads(settings: Settings) -> BoardReads:
    """The board, read without Temporal: the queue still shows while Temporal is down."""
    check_database(settings)
    return BoardReads(open_case_board(settings))


# ---- commands ----------------------------------------------------------------------------


def _existing_store(settings: Settings) -> AppStore:
    """The directory for commands that only read it: a missing file is a wrong AHA_DB."""
    if not settings.uses_postgres and not Path(settings.db_path).exists():
        raise CaseError(
            f"no seller directory at {settings.db_path}: set AHA_DB "
            "(the stack from `aha dev` prints it), or add a seller with `aha seller upsert`"
        )
    return open_programme_store(settings)


async def cmd_detect(args: argparse.Namespace, settings: Settings) -> None:
    store = _existing_store(settings)
    contact = store.get(args.seller)
    if contact is None:
        raise CaseError(f"seller {args.seller!r} is not in the directory: no case was started")
    marketplace = args.marketplace or (contact.marketplace if contact else "US")
    event = DetectionEvent(
        event_id=args.event_id or f"cli-{uuid.uuid4()}",
        seller_id=args.seller,
        marketplace=marketplace,
        issue_type=args.issue_type,
        severity=args.severity,
        description=args.description or "",
        detected_at=args.detected_at or datetime.now(UTC),
    )
    service = await _service(settings, args.catalogue)
    receipt = await service.detect(event)
    verb = "opened" if receipt.created else "joined"
    if receipt.duplicate:
        verb = "already received by"
    _emit(
        args,
        {
            "case_id": receipt.case_id,
            "created": receipt.created,
            "issue_id": receipt.issue_id,
            "duplicate": receipt.duplicate,
        },
        f"event {event.event_id} {verb} case {receipt.case_id} (issue {receipt.issue_id})",
    )


async def cmd_contact_me_now(args: argparse.Namespace, settings: Settings) -> None:
    receipt = await (await _service(settings)).contact_me_now(args.seller)
    text = (
        f"calling you now: attempt {receipt.attempt}"
        if receipt.created
        else f"a call is already on its way: attempt {receipt.attempt}"
    )
    _emit(args, receipt, text)


async def cmd_callback(args: argparse.Namespace, settings: Settings) -> None:
    service = await _service(settings)
    if args.cancel:
        callback = await service.cancel_callback(args.seller, cancelled_by="seller")
        text = f"callback for {callback.at:%Y-%m-%d %H:%M} UTC cancelled"
    else:
        callback = await service.schedule_callback(args.seller, CallbackRequest(at=args.at))
        text = f"we will call you at {callback.at:%Y-%m-%d %H:%M} UTC"
    _emit(args, callback, text)


async def cmd_calls_pending(args: argparse.Namespace, settings: Settings) -> None:
    service = _board_reads(settings)
    calls: list[PendingCall] = []
    token: str | None = None
    while True:  # every page: the list is complete, whatever its length
        page = await service.pending_calls(page_size=args.page_size, page_token=token)
        calls += page.calls
        token = page.next_page_token
        if token is None:
            break
    lines = []
    for call in calls:
        origin = "seller asked" if call.seller_initiated else "proactive"
        owner = f" owner {call.assigned_to}" if call.assigned_to else ""
        lines.append(
            f"{call.seller_id} attempt {call.attempt} ({origin}) phone {call.phone}"
            f" issues {', '.join(call.issue_types)}{owner}"
        )
        lines += [f"    {step}" for step in call.guidance]
    _emit(args, calls, "\n".join(lines) or "no calls waiting for an outcome")


async def cmd_queue(args: argparse.Namespace, settings: Settings) -> None:
    filters = QueueFilter(
        owner=args.actor if args.mine else args.owner,
        unassigned=args.unassigned,
        status=args.status,
        marketplace=args.marketplace,
        at_risk_within=args.at_risk_within,
        breached=args.breached,
    )
    service = _board_reads(settings)
    items: list[QueueItem] = []
    token: str | None = None
    at, total = datetime.now(UTC), 0
    # One moment for every page, so that time left is counted alike down the whole list.
    while args.limit is None or len(items) < args.limit:
        size = (
            args.page_size if args.limit is None else min(args.page_size, args.limit - len(items))
        )
        page = await service.queue(filters, page_size=size, page_token=token, now=at)
        items += page.cases
        total, token = page.total, page.next_page_token
        if token is None:
            break
    data = {
        "at": at.isoformat(),
        "total": total,
        "cases": [item.model_dump(mode="json") for item in items],
    }
    _emit(args, data, queue_table(items, total, at))


QUEUE_COLUMNS = (
    "SELLER", "STATUS", "TIME LEFT", "SELLER TIME", "CALLABLE", "ATTEMPTS", "NEXT CALL",
    "OWNER", "SLA",
)  # fmt: skip


def queue_table(items: list[QueueItem], total: int, at: datetime) -> str:
    """The queue as `aha queue` prints it, in the service's order: by time left."""
    if not items:
        return "no open cases match"
    rows = [QUEUE_COLUMNS]
    for item in items:
        row = item.row
        next_call = "-"
        if row.callback_at is not None:
            # The seller's own time comes first: proactive calls wait for it.
            wait = (row.callback_at - at).total_seconds()
            next_call = f"callback in {_span(wait)}" if wait > 0 else "callback due"
        elif row.next_call_at is not None:
            wait = (row.next_call_at - at).total_seconds()
            next_call = f"in {_span(wait)}" if wait > 0 else "due"
        rows.append(
            (
                row.seller_id,
                row.status,
                _span(item.seconds_left) if item.seconds_left is not None else "-",
                item.seller_local_time or "-",
                "yes" if item.callable_now else "no",
                str(row.attempts),
                next_call,
                row.assigned_to or "-",
                row.sla_state,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(QUEUE_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.append(f"{len(items)} of {total} open cases")
    return "\n".join(lines)


def _span(seconds: float) -> str:
    """A span of time in a queue column: "2d 03h", "5h 07m", "12m", "overdue 4m"."""
    if seconds < 0:
        return f"overdue {_span(-seconds)}"
    minutes = int(seconds // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


async def cmd_claim(args: argparse.Namespace, settings: Settings) -> None:
    service = await _service(settings)
    owned = await service.claim(
        args.seller, specialist=args.actor, by=f"cli:{args.actor}", email=args.actor_email
    )
    text = f"case of {args.seller}: yours ({args.actor})"
    _emit(args, owned, text if owned.changed else f"{text}, already")


async def cmd_release(args: argparse.Namespace, settings: Settings) -> None:
    service = await _service(settings)
    owned = await service.release(
        args.seller,
        specialist=args.actor,
        by=f"cli:{args.actor}",
        supervisor=args.actor_supervisor,
    )
    done = "released" if owned.changed else "nobody owned it"
    _emit(args, owned, f"case of {args.seller}: {done}")


async def cmd_assign(args: argparse.Namespace, settings: Settings) -> None:
    service = await _service(settings)
    owned = await service.assign(
        args.seller, specialist=args.to, by=f"cli:{args.actor}", email=args.to_email
    )
    text = f"case of {args.seller}: assigned to {owned.assigned_to}"
    _emit(args, owned, text if owned.changed else f"{text}, already")


async def cmd_call_outcome(args: argparse.Namespace, settings: Settings) -> None:
    report = CallReport(attempt=args.attempt, outcome=args.outcome, reported_by=args.by)
    attempt = await (await _service(settings)).report_call_outcome(args.seller, report)
    _emit(args, attempt, f"attempt {attempt.number}: {attempt.outcome}")


async def cmd_submit_plan(args: argparse.Namespace, settings: Settings) -> None:
    submission = PlanSubmission(
        root_cause=args.root_cause,
        corrective_actions=args.action or [],
        preventive_measures=args.prevention or [],
        issue_ids=args.issue or [],
        submitted_by=args.by,
    )
    plan = await (await _service(settings)).submit_plan(args.seller, submission)
    _emit(args, plan, f"plan submitted for {', '.join(plan.issue_ids)}: under review")


async def cmd_appeal(args: argparse.Namespace, settings: Settings) -> None:
    submission = PlanSubmission(
        root_cause=args.root_cause,
        corrective_actions=args.action or [],
        preventive_measures=args.prevention or [],
        submitted_by=args.by,
    )
    appeal = await (await _service(settings)).appeal(args.seller, submission)
    _emit(args, appeal, f"appeal {appeal.number} of {args.seller}: {appeal.state}")


async def cmd_review_appeal(args: argparse.Namespace, settings: Settings) -> None:
    if args.accept:
        review = AppealReview(decision="accept", reviewer=args.by)
    else:
        review = AppealReview(decision="reject", reason=args.reject, reviewer=args.by)
    appeal = await (await _service(settings)).review_appeal(args.seller, review)
    text = f"appeal {appeal.number} of {args.seller}: {appeal.state}"
    if appeal.state == "accepted":
        text += ", account reactivated"
    _emit(args, appeal, text)


async def cmd_review_plan(args: argparse.Namespace, settings: Settings) -> None:
    if args.accept:
        review = Review(decision="accept", reviewer=args.by)
    else:
        review = Review(decision="request_info", questions=args.request_info, reviewer=args.by)
    plan = await (await _service(settings)).review_plan(args.seller, review)
    _emit(args, plan, f"plan {plan.review_state}")


async def cmd_resolve(args: argparse.Namespace, settings: Settings) -> None:
    resolution = Resolution(issue_id=args.issue, note=args.note, resolved_by=args.by)
    issue = await (await _service(settings)).resolve(args.seller, resolution)
    _emit(args, issue, f"issue {issue.id} resolved")


async def cmd_extend(args: argparse.Namespace, settings: Settings) -> None:
    extension = Extension(
        issue_id=args.issue, until=args.until, reason=args.reason, extended_by=f"cli:{args.actor}"
    )
    issue = await (await _service(settings)).extend(args.seller, extension)
    _emit(args, issue, f"issue {issue.id}: deadline now {issue.deadline:%Y-%m-%d %H:%M} UTC")


async def cmd_status(args: argparse.Namespace, settings: Settings) -> None:
    view = await (await _service(settings)).status(args.seller)
    _emit(args, view, case_text.case_summary(view))


async def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    cases = await (await _service(settings)).list_cases(args.status)
    lines = [
        f"{c.case_id}  {c.status}  deadline {c.deadline:%Y-%m-%d %H:%M} UTC"
        if c.deadline
        else f"{c.case_id}  {c.status}"
        for c in cases
    ]
    _emit(args, cases, "\n".join(lines) or "no cases")


def _seller_json(contact: Any) -> dict[str, Any]:
    data: dict[str, Any] = contact.model_dump(mode="json")
    return data


async def cmd_seller_upsert(args: argparse.Namespace, settings: Settings) -> None:
    store = open_programme_store(settings)
    if store.get(args.seller) is None:
        # A new seller has no case and no enrolment yet: nothing in Temporal to tell.
        contact, _ = store.upsert(
            args.seller,
            email=args.email,
            phone=args.phone,
            timezone=args.timezone,
            marketplace=args.marketplace or "US",
            name=args.name,
            account_type=args.account_type,
        )
        update = ContactUpdate(contact=contact, case_notified=False, enrolled_now=False)
    else:
        update = await change_contact(
            store,
            args.seller,
            email=args.email,
            phone=args.phone,
            timezone=args.timezone,
            service=lambda: _service(settings),
            changed_by="aha CLI",
            marketplace=args.marketplace,
            name=args.name,
            account_type=args.account_type,
        )
    for warning in update.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    data = _seller_json(update.contact) | {
        "case_notified": update.case_notified,
        "enrolled_now": update.enrolled_now,
    }
    told = " (open case told)" if update.case_notified else ""
    _emit(args, data, f"seller {update.contact.seller_id} saved{told}")


async def cmd_seller_show(args: argparse.Namespace, settings: Settings) -> None:
    store = _existing_store(settings)
    contact = store.get(args.seller)
    if contact is None:
        raise CaseError(f"unknown seller {args.seller!r}")
    enrollment = store.enrollment(args.seller)
    data = _seller_json(contact) | {
        "enrollment": {
            "state": enrollment.state if enrollment else "not_eligible",
            "since": enrollment.since.isoformat() if enrollment else None,
            "reasons": list(enrollment.reasons) if enrollment else ["never evaluated"],
        }
    }
    text = "\n".join(f"{k}: {v}" for k, v in data.items())
    _emit(args, data, text)


async def cmd_seller_preferred_windows(args: argparse.Namespace, settings: Settings) -> None:
    store = _existing_store(settings)
    contact = store.get(args.seller)
    if contact is None:
        raise CaseError(f"unknown seller {args.seller!r}")
    if args.set or args.clear:
        windows = None if args.clear else preferred.parse_assignments(args.set)
        update = await change_preferred_windows(
            store,
            args.seller,
            windows,
            service=lambda: _service(settings),
            changed_by="aha CLI",
        )
        for warning in update.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        contact = update.contact
    windows = contact.preferred_windows or preferred.PreferredWindows()
    data = {
        "seller_id": contact.seller_id,
        "timezone": contact.timezone,
        "windows": windows.model_dump(mode="json"),
        "summary": windows.summary(),
    }
    _emit(
        args,
        data,
        f"preferred windows of {contact.seller_id} ({contact.timezone}): {windows.summary()}",
    )


async def cmd_seller_ahr(args: argparse.Namespace, settings: Settings) -> None:
    _existing_store(settings).record_reading(args.seller, args.date, args.score)
    _emit(
        args,
        {"seller_id": args.seller, "date": args.date.isoformat(), "score": args.score},
        f"AHR {args.score} recorded for {args.seller} on {args.date.isoformat()}",
    )


async def cmd_seller_import_ahr(args: argparse.Namespace, settings: Settings) -> None:
    report = _existing_store(settings).import_readings(Path(args.file))
    for line, reason in report.problems:
        print(f"{args.file}:{line}: {reason}", file=sys.stderr)
    _emit(
        args,
        {
            "accepted": report.accepted,
            "rejected": [{"line": line, "reason": reason} for line, reason in report.problems],
        },
        f"{report.accepted} readings stored, {len(report.problems)} rows refused",
    )
    if report.problems:
        # The good rows landed; a non-zero exit still tells a script that some did not.
        raise CaseError(f"{len(report.problems)} rows refused (see above)")


async def _evaluate(
    settings: Settings, seller_id: str | None = None, as_of: date | None = None
) -> SweepResult:
    return await (await _service(settings)).evaluate_enrollment(seller_id, as_of)


async def cmd_enrollment_evaluate(args: argparse.Namespace, settings: Settings) -> None:
    result = await _evaluate(settings, seller_id=args.seller, as_of=args.as_of)
    text = (
        f"as of {result.as_of}: {result.evaluated} evaluated, {result.enrolled} enrolled, "
        f"{result.eligible_missing_phone} missing a phone, {result.not_eligible} not eligible; "
        f"{result.changes} changes, {result.emails} emails, {len(result.failures)} failed"
    )
    _emit(args, result, text)


async def cmd_schedule_apply(args: argparse.Namespace, settings: Settings) -> None:
    from aha.adapters.temporal.schedule import SCHEDULE_ID, apply_schedule

    try:
        client = await connect(settings)
    except RuntimeError as err:
        raise CaseError(f"cannot reach Temporal at {settings.temporal_address}: {err}") from err
    done = await apply_schedule(client, settings.task_queue)
    _emit(args, {"schedule_id": SCHEDULE_ID, "result": done}, f"schedule {SCHEDULE_ID} {done}")


def _operator(args: argparse.Namespace) -> str:
    return str(
        args.as_name or os.environ.get("AHA_SPECIALIST") or os.environ.get("USER") or "aha CLI"
    )


def _dnc_line(entry: DoNotCall) -> str:
    return f"{entry.number}  {entry.added_at:%Y-%m-%d %H:%M} UTC  {entry.added_by}  {entry.reason}"


async def cmd_dnc_add(args: argparse.Namespace, settings: Settings) -> None:
    check_database(settings)
    entry = open_call_consents(settings).add(args.number, args.reason, _operator(args))
    _emit(args, entry, f"{entry.number} is on the do-not-call list: no proactive call dials it")


async def cmd_dnc_remove(args: argparse.Namespace, settings: Settings) -> None:
    check_database(settings)
    number = dnc_number(args.number)
    if not open_call_consents(settings).remove(number):
        raise CaseError(f"{number} is not on the do-not-call list: nothing removed")
    _emit(args, {"number": number, "removed": True}, f"{number} removed from the do-not-call list")


async def cmd_dnc_list(args: argparse.Namespace, settings: Settings) -> None:
    check_database(settings)
    entries = open_call_consents(settings).entries()
    _emit(
        args, entries, "\n".join(_dnc_line(e) for e in entries) or "the do-not-call list is empty"
    )


async def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    from aha.adapters.stores import upgrade_schema

    print(upgrade_schema(settings))


async def cmd_board_reconcile(args: argparse.Namespace, settings: Settings) -> None:
    from aha.board_repair import reconcile

    service = await _service(settings)
    found = await reconcile(open_case_board(settings), service.cases, dry_run=args.dry_run)
    verb = "would close" if args.dry_run else "closed"
    lines = [f"{found.checked} open row(s) checked; {verb} {len(found.closed)}"]
    lines += [f"  {closed}" for closed in found.closed]
    _emit(args, {"checked": found.checked, "closed": found.closed}, "\n".join(lines))


async def cmd_db_current(args: argparse.Namespace, settings: Settings) -> None:
    from aha.adapters.stores import schema_revisions

    current, head = schema_revisions(settings)
    if head is None:
        text = f"SQLite file {settings.db_path}: no revisions (its schema is made when it opens)"
    else:
        text = f"current: {current or 'none'}\nhead: {head}"
    _emit(args, {"current": current, "head": head}, text)


async def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    from worker import run_worker

    await run_worker(settings)


async def cmd_api(args: argparse.Namespace, settings: Settings) -> None:
    from api.app import serve
    from api.auth import load_tokens
    from api.state import require_session_secret

    require_session_secret(settings)  # before anything else: replicas must share sessions

    book = load_tokens(settings.api_tokens_file)  # a bad file stops here, with its reason
    load_catalogue(settings.issue_catalog)  # and so does a bad AHA_ISSUE_CATALOG
    load_policy(settings.policy_file)  # or AHA_POLICY_FILE (the page says its deadline)
    if not book:
        print(
            "aha api: warning: no tokens (set AHA_API_TOKENS): every /v1 route will answer 401",
            file=sys.stderr,
        )
    if not settings.session_secret:
        print(
            "aha api: warning: AHA_SESSION_SECRET is unset: page sessions and page tokens "
            "last only as long as this process, and only in it",
            file=sys.stderr,
        )
    host, port = args.host or settings.api_host, args.port or settings.api_port
    print(f"aha api: listening on http://{host}:{port} (docs at /docs)", file=sys.stderr)
    if settings.metrics_address is not None:
        print(f"aha api: metrics on http://{settings.metrics_bind}/metrics", file=sys.stderr)
    await serve(settings, host=host, port=port)


async def cmd_codec_keygen(args: argparse.Namespace, settings: Settings) -> None:
    from aha.adapters.temporal.keyring import add_key

    key_id, ring = await asyncio.to_thread(add_key, args.file)
    _emit(
        args,
        {"key_id": key_id, "file": args.file, "keys": sorted(ring.keys)},
        f"{key_id} is the current key of {args.file} ({len(ring.keys)} keys in the ring)",
    )


async def cmd_codec_server(args: argparse.Namespace, settings: Settings) -> None:
    from aha.codec_server import serve_codec

    await serve_codec(settings, host=args.host, port=args.port)


async def cmd_dev(args: argparse.Namespace, settings: Settings) -> None:
    from aha.dev import DevOptions, run_dev

    await run_dev(
        DevOptions(
            data_dir=args.data_dir,
            demo=not args.no_demo,
            dialer=args.dialer,
            policy_file=settings.policy_file,  # --policy, else AHA_POLICY_FILE
            temporal_port=args.temporal_port,
            ui_port=args.ui_port,
            smtp_port=args.smtp_port,
            api_port=args.api_port,
            log_format=args.log_format,
            encrypt=args.encrypt,
            codec_port=args.codec_port,
        )
    )


# ---- parsing -----------------------------------------------------------------------------


def _iso_datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date-time") from err
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone offset, e.g. Z or +00:00")
    return moment


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from err


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _page_size(text: str) -> int:
    size = _positive_int(text)
    if size > 500:
        raise argparse.ArgumentTypeError(f"{text!r} is more than 500")
    return size


def _duration(text: str) -> timedelta:
    try:
        value = parse_duration(text)
    except (ValueError, OverflowError) as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 6h or 90m") from err
    if value > timedelta(days=3650):
        raise argparse.ArgumentTypeError(f"{text!r} is more than 3650d")
    return value


def _marketplace(text: str) -> str:
    if not re.fullmatch(MARKETPLACE_PATTERN, text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a marketplace code, e.g. US")
    return text


def _preferred_window(text: str) -> str:
    # Each --set checked on its own, so the error names the one that is wrong.
    try:
        preferred.parse_assignments([text])
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _person(text: str) -> str:
    if not re.fullmatch(SPECIALIST_NAME_PATTERN, text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a name: 1-64 letters, digits, spaces or _.@:-"
        )
    return text


def _staff_command(
    commands: Any, name: str, handler: Callable[..., Awaitable[None]], help: str
) -> argparse.ArgumentParser:
    sub: argparse.ArgumentParser = commands.add_parser(name, help=help, description=help)
    sub.set_defaults(handler=handler, staff=True)
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub.add_argument(
        "--as",
        dest="as_name",
        type=_person,
        metavar="NAME",
        help="who you are (default: $AHA_SPECIALIST, else $USER)",
    )
    return sub


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aha", description=__doc__)
    parser.add_argument("--log-format", choices=["console", "json"], default="console")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str,
        handler: Callable[..., Awaitable[None]],
        help: str,
        data: bool = True,
        parent: Any = commands,
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        if data:
            sub.add_argument("--json", action="store_true", help="print JSON")
        return sub

    dev = command(
        "dev", cmd_dev, "run Temporal, the worker, a mail catcher and the demo", data=False
    )
    dev.add_argument("--data-dir", default=".aha")
    dev.add_argument("--no-demo", action="store_true", help="do not seed or stream demo cases")
    dev.add_argument("--dialer", choices=["manual", "simulated"], default="simulated")
    dev.add_argument("--policy", metavar="FILE")
    dev.add_argument("--temporal-port", type=int, default=7233)
    dev.add_argument("--ui-port", type=int, default=8233)
    dev.add_argument("--smtp-port", type=int, default=1025)
    dev.add_argument("--api-port", type=int, default=8000)
    dev.add_argument(
        "--encrypt",
        action="store_true",
        help="encrypt payloads (AHA_CODEC_KEYS_FILE, else a key ring in the data dir) "
        "and run the codec server for the UI",
    )
    dev.add_argument("--codec-port", type=int, default=8081, help="with --encrypt")

    api = command("api", cmd_api, "run the HTTP API and the account-health page", data=False)
    api.add_argument("--host", help="default: AHA_API_HOST, else 127.0.0.1")
    api.add_argument("--port", type=int, help="default: AHA_API_PORT, else 8000")

    work = command("worker", cmd_worker, "run the case worker", data=False)
    work.add_argument("--policy", metavar="FILE")
    work.add_argument("--dialer", choices=["manual", "simulated", "twilio"])
    codec = commands.add_parser("codec", help="the key ring that encrypts payloads")
    codec_commands = codec.add_subparsers(dest="codec_command", required=True, metavar="COMMAND")
    keygen = command(
        "keygen",
        cmd_codec_keygen,
        "create a key ring, or add a new key to it and make that key current",
        parent=codec_commands,
    )
    keygen.add_argument("--file", required=True, metavar="FILE")
    codec_server = command(
        "codec-server",
        cmd_codec_server,
        "serve /encode and /decode for the Temporal Web UI and CLI (AHA_CODEC_KEYS_FILE)",
        data=False,
    )
    codec_server.add_argument("--host", default="127.0.0.1")
    codec_server.add_argument("--port", type=int, default=8081)

    for server in (dev, work):
        # Accepted after the subcommand too: `aha worker --log-format json`.
        server.add_argument("--log-format", choices=["console", "json"], default=argparse.SUPPRESS)

    detect = command("detect", cmd_detect, "report a detection event for a seller")
    detect.add_argument("seller")
    # One of the catalogue's types, checked once the catalogue is loaded (see `_run`).
    detect.add_argument("--issue-type", required=True, metavar="T")
    detect.add_argument("--severity", required=True, choices=["critical", "high", "medium", "low"])
    detect.add_argument("--event-id")
    detect.add_argument("--description")
    detect.add_argument("--detected-at", type=_iso_datetime, metavar="ISO8601")
    detect.add_argument("--marketplace")

    contact = command("contact-me-now", cmd_contact_me_now, "the seller asks to be called now")
    contact.add_argument("seller")

    callback = command(
        "callback", cmd_callback, "the seller asks to be called at a time (or cancels it)"
    )
    callback.add_argument("seller")
    when = callback.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--at",
        type=_iso_datetime,
        metavar="ISO8601",
        help="when, with a time zone offset; a new time replaces the pending one",
    )
    when.add_argument("--cancel", action="store_true", help="cancel the pending callback")

    calls = commands.add_parser("calls", help="the specialists' call work queue")
    calls_commands = calls.add_subparsers(dest="calls_command", required=True, metavar="COMMAND")
    pending = command(
        "pending", cmd_calls_pending, "calls waiting for an outcome", parent=calls_commands
    )
    pending.add_argument(
        "--page-size", type=_page_size, default=500, metavar="N", help="read N at a time (1-500)"
    )

    queue = _staff_command(
        commands, "queue", cmd_queue, "the work queue: open cases by time left (the case board)"
    )
    queue.add_argument("--mine", action="store_true", help="the cases you own")
    queue.add_argument("--unassigned", action="store_true", help="the cases nobody owns")
    queue.add_argument("--owner", type=_person, metavar="NAME", help="the cases NAME owns")
    queue.add_argument("--status", choices=OPEN_STATUSES)
    queue.add_argument("--marketplace", type=_marketplace, metavar="CODE")
    queue.add_argument(
        "--at-risk-within", type=_duration, metavar="DURATION", help="deadline within, e.g. 6h"
    )
    queue.add_argument("--breached", action="store_true", help="cases with a breached SLA")
    queue.add_argument("--page-size", type=_page_size, default=100, metavar="N", help="1-500")
    queue.add_argument(
        "--limit", type=_positive_int, metavar="N", help="stop after N cases (default: all)"
    )
    claim = _staff_command(commands, "claim", cmd_claim, "take a seller's case: you own it")
    claim.add_argument("seller")
    release = _staff_command(
        commands, "release", cmd_release, "give a case back (yours; a supervisor: anyone's)"
    )
    release.add_argument("seller")
    assign = _staff_command(
        commands, "assign", cmd_assign, "a supervisor gives a case to a specialist"
    )
    assign.add_argument("seller")
    assign.add_argument("--to", required=True, type=_person, metavar="NAME")

    outcome = command("call-outcome", cmd_call_outcome, "report a call attempt's outcome")
    outcome.add_argument("seller")
    outcome.add_argument("--attempt", required=True, type=_positive_int)
    outcome.add_argument("--outcome", required=True, choices=CALL_OUTCOMES)
    outcome.add_argument("--by", default="specialist", help="who reports (for the timeline)")

    plan = command("submit-plan", cmd_submit_plan, "the seller submits a plan of action")
    plan.add_argument("seller")
    plan.add_argument("--root-cause", required=True, metavar="TEXT")
    plan.add_argument("--action", action="append", metavar="TEXT")
    plan.add_argument("--prevention", action="append", metavar="TEXT")
    plan.add_argument("--issue", action="append", metavar="ID")
    plan.add_argument("--by", default="seller")

    review = command("review-plan", cmd_review_plan, "a specialist reviews the plan")
    review.add_argument("seller")
    decision = review.add_mutually_exclusive_group(required=True)
    decision.add_argument("--accept", action="store_true")
    decision.add_argument("--request-info", action="append", metavar="QUESTION")
    review.add_argument("--by", default="specialist")

    appeal = command("appeal", cmd_appeal, "a deactivated seller appeals with a plan of action")
    appeal.add_argument("seller")
    appeal.add_argument("--root-cause", required=True, metavar="TEXT")
    appeal.add_argument("--action", action="append", metavar="TEXT")
    appeal.add_argument("--prevention", action="append", metavar="TEXT")
    appeal.add_argument("--by", default="seller")

    review_appeal = command(
        "review-appeal", cmd_review_appeal, "a specialist accepts or rejects the appeal"
    )
    review_appeal.add_argument("seller")
    verdict = review_appeal.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--accept", action="store_true")
    verdict.add_argument("--reject", metavar="REASON")
    review_appeal.add_argument("--by", default="specialist")

    resolve = command("resolve", cmd_resolve, "a specialist resolves an issue directly")
    resolve.add_argument("seller")
    resolve.add_argument("--issue", required=True, metavar="ID")
    resolve.add_argument("--note", required=True, metavar="TEXT")
    resolve.add_argument("--by", default="specialist")

    extend = _staff_command(
        commands, "extend", cmd_extend, "a supervisor extends one issue's deadline, with a reason"
    )
    extend.add_argument("seller")
    extend.add_argument("--issue", required=True, metavar="ID")
    extend.add_argument("--until", required=True, type=_iso_datetime, metavar="ISO8601")
    extend.add_argument("--reason", required=True, metavar="TEXT")

    status = command("status", cmd_status, "show a seller's case")
    status.add_argument("seller")

    listing = command("list", cmd_list, "list cases (from Temporal visibility)")
    listing.add_argument("--status", choices=CASE_STATUSES)

    seller = commands.add_parser("seller", help="seller contact data")
    seller_commands = seller.add_subparsers(dest="seller_command", required=True, metavar="COMMAND")
    upsert = command(
        "upsert", cmd_seller_upsert, "add or change a seller's contact data", parent=seller_commands
    )
    upsert.add_argument("seller")
    upsert.add_argument("--email", required=True)
    upsert.add_argument("--phone", help="emergency phone, E.164 (kept when left out)")
    upsert.add_argument("--timezone", required=True, help="IANA zone, e.g. America/Chicago")
    upsert.add_argument("--marketplace")
    upsert.add_argument("--name")
    upsert.add_argument("--account-type", choices=["professional", "individual"])
    show = command("show", cmd_seller_show, "show a seller's contact data", parent=seller_commands)
    show.add_argument("seller")
    enrollment = commands.add_parser("enrollment", help="the assurance programme's enrolment")
    enrollment_commands = enrollment.add_subparsers(
        dest="enrollment_command", required=True, metavar="COMMAND"
    )
    evaluate = command(
        "evaluate",
        cmd_enrollment_evaluate,
        "evaluate every seller, or one, now",
        parent=enrollment_commands,
    )
    evaluate.add_argument("--seller", metavar="ID")
    evaluate.add_argument("--as-of", type=_iso_date, metavar="YYYY-MM-DD")
    schedule = commands.add_parser("schedule", help="the daily enrolment sweep schedule")
    schedule_commands = schedule.add_subparsers(
        dest="schedule_command", required=True, metavar="COMMAND"
    )
    command(
        "apply",
        cmd_schedule_apply,
        "create or update aha-enrollment-daily",
        parent=schedule_commands,
    )
    dnc = commands.add_parser("dnc", help="the do-not-call list, checked before every dial")
    dnc_commands = dnc.add_subparsers(dest="dnc_command", required=True, metavar="COMMAND")
    dnc_add = command(
        "add", cmd_dnc_add, "put a number on the do-not-call list", parent=dnc_commands
    )
    dnc_add.add_argument("number", help="E.164, e.g. +14155550123 (spaces and dashes allowed)")
    dnc_add.add_argument("--reason", required=True, help="why it must not be called (kept)")
    dnc_add.add_argument("--as", dest="as_name", metavar="NAME", help="who lists it")
    dnc_remove = command(
        "remove", cmd_dnc_remove, "take a number off the do-not-call list", parent=dnc_commands
    )
    dnc_remove.add_argument("number")
    command("list", cmd_dnc_list, "show the do-not-call list", parent=dnc_commands)
    db = commands.add_parser("db", help="the database's schema (AHA_DB)")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    command(
        "upgrade",
        cmd_db_upgrade,
        "apply the schema migrations AHA_DB lacks (safe to run twice, or twice at once)",
        data=False,
        parent=db_commands,
    )
    command(
        "current", cmd_db_current, "show the schema's current and head revision", parent=db_commands
    )
    board = commands.add_parser("board", help="the case board the console reads (AHA_DB)")
    board_commands = board.add_subparsers(dest="board_command", required=True, metavar="COMMAND")
    reconcile = command(
        "reconcile",
        cmd_board_reconcile,
        "close the board rows of case runs that ended without writing their last row "
        "(terminated, failed, timed out)",
        parent=board_commands,
    )
    reconcile.add_argument("--dry-run", action="store_true", help="only say what would close")
    windows = command(
        "preferred-windows",
        cmd_seller_preferred_windows,
        "show, set or clear a seller's preferred contact windows (seller-local time)",
        parent=seller_commands,
    )
    windows.add_argument("seller")
    windows_change = windows.add_mutually_exclusive_group()
    windows_change.add_argument(
        "--set",
        action="append",
        type=_preferred_window,
        metavar="DAY=HH:MM-HH:MM",
        help="a window, e.g. mon=09:00-12:00 (repeat it; DAY=A,B for two on a day); "
        "replaces all stored windows",
    )
    windows_change.add_argument("--clear", action="store_true", help="remove all windows")
    ahr = command("ahr", cmd_seller_ahr, "record one day's AHR reading", parent=seller_commands)
    ahr.add_argument("seller")
    ahr.add_argument("--date", required=True, type=_iso_date, metavar="YYYY-MM-DD")
    ahr.add_argument("--score", required=True, type=int, metavar="N")
    bulk = command(
        "import-ahr",
        cmd_seller_import_ahr,
        "load readings from a CSV file "
        "(header seller_id,date,score); good rows land, bad rows are listed by line",
        parent=seller_commands,
    )
    bulk.add_argument("file", metavar="FILE.csv")
    return parser


async def _within(action: Awaitable[None], settings: Settings) -> None:
    """A CLI command waits on the worker; without one it would wait for ever."""
    try:
        await asyncio.wait_for(action, timeout=settings.cli_timeout_seconds)
    except TimeoutError:
        try:
            service = await asyncio.wait_for(_service(settings), timeout=3)
        except (TimeoutError, CaseError, RPCError):
            raise CaseError(
                f"no answer within {settings.cli_timeout_seconds:.0f}s: Temporal at "
                f"{settings.temporal_address} is not answering"
            ) from None
        explanation = await service.explain_wait(
            settings.cli_timeout_seconds, settings.temporal_address
        )
        raise CaseError(explanation) from None


def _settings_for(args: argparse.Namespace) -> Settings:
    settings = Settings()
    overrides: dict[str, Any] = {}
    if getattr(args, "policy", None):
        overrides["policy_file"] = args.policy
    if getattr(args, "dialer", None) and args.command == "worker":
        overrides["dialer"] = args.dialer
    if overrides:
        from dataclasses import replace

        settings = replace(settings, **overrides)
    return settings


def main(argv: list[str] | None = None) -> int:
    code = _run(argv)
    if argv is None:
        from aha.adapters.temporal.tracing import flush_tracing

        flush_tracing()  # os._exit below would drop the spans still batched
        # Run as the `aha` program: end without interpreter finalization. The Temporal
        # client's Rust threads can outlive asyncio.run and then abort a command that already
        # succeeded with SIGABRT, "Fatal Python error: PyGILState_Release" (temporalio/sdk-python
        # issue 300); os._exit skips the teardown they race with.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    return code


def _known_issue_type(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`--issue-type` must name a type of the catalogue in force (a usage error, exit 2)."""
    if args.issue_type not in args.catalogue:
        parser.error(
            f"argument --issue-type: unknown issue type {args.issue_type!r}; "
            f"known: {', '.join(args.catalogue.names)}"
        )


def _staff_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings
) -> None:
    """Who acts (`--as`), and what the tokens file (AHA_API_TOKENS), when there is one, knows
    of them: their email, whether they supervise, whether `--to` names one of the staff.
    A usage error (exit 2) when something is missing or unknown."""
    name = args.as_name or os.environ.get("AHA_SPECIALIST") or os.environ.get("USER")
    args.actor = None
    if args.command != "queue" or args.mine:  # the queue needs a name only for --mine
        if not name:
            parser.error("say who you are: --as NAME, or set AHA_SPECIALIST")
        try:
            args.actor = _person(name)
        except argparse.ArgumentTypeError as err:
            parser.error(f"argument --as (or AHA_SPECIALIST, USER): {err}")
    staff = load_tokens(settings.api_tokens_file).staff()  # a bad file stops here
    me = staff.get(args.actor) if args.actor else None
    args.actor_email = me.email if me else None
    args.actor_supervisor = bool(me and me.supervisor)
    if args.command == "queue":
        if args.mine and args.owner is not None:
            parser.error("argument --owner: not with --mine")
        if args.unassigned and (args.mine or args.owner is not None):
            parser.error("argument --unassigned: not with --mine or --owner")
    if args.command == "extend" and settings.api_tokens_file and not args.actor_supervisor:
        parser.error(
            f"argument --as: {args.actor!r} is not a supervisor in "
            f"{settings.api_tokens_file}: only a supervisor extends deadlines"
        )
    if args.command == "assign":
        if settings.api_tokens_file and not args.actor_supervisor:
            parser.error(
                f"argument --as: {args.actor!r} is not a supervisor in "
                f"{settings.api_tokens_file}: only a supervisor assigns cases"
            )
        member = staff.get(args.to)
        if settings.api_tokens_file and member is None:
            parser.error(
                f"argument --to: {args.to!r} is not a specialist or supervisor in "
                f"{settings.api_tokens_file}; known: {', '.join(sorted(staff)) or 'none'}"
            )
        args.to_email = member.email if member else None


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    serving = args.command in ("dev", "worker", "api", "codec-server")
    configure(args.log_format, level="INFO" if serving else "WARNING")
    try:
        settings = _settings_for(args)
        if settings.codec_keys_file and args.command != "codec":
            # A bad key ring stops every command before it reaches Temporal.
            load_key_ring(settings.codec_keys_file)
        if args.command == "detect":
            args.catalogue = load_catalogue(settings.issue_catalog)
            _known_issue_type(parser, args)
        if getattr(args, "staff", False):
            _staff_args(parser, args, settings)
        action = args.handler(args, settings)
        asyncio.run(action if serving else _within(action, settings))
    except (
        CaseError,
        InvalidContact,
        InvalidDoNotCall,
        InvalidReading,
        PolicyError,
        CatalogueError,
        UsageError,
        TokenFileError,
    ) as err:
        print(f"aha: {err}", file=sys.stderr)
        return 1
    except RPCError as err:
        print(f"aha: Temporal refused the request: {err.message}", file=sys.stderr)
        return 1
    except (OSError, ValueError, RuntimeError) as err:
        # Settings that cannot be used (a bad port, an unwritable AHA_DB, no server).
        print(f"aha: {err}", file=sys.stderr)
        return 1
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        print(f"aha: invalid input: {problems}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
