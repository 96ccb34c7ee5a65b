"""Evaluating a page of sellers for the programme and telling those whose state changed."""

from __future__ import annotations

import smtplib
from contextlib import ExitStack
from datetime import date

import structlog
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import SmtpSettings, build_message, connect, deliver
from aha.directory import NotificationLedger
from aha.domain.eligibility import MIN_SCORE, RatingSummary, evaluate, window_start
from aha.domain.enrollment import email_for_change, render_enrollment_email
from aha.domain.models import SweepCounts
from aha.programme_store import Enrollment, ProgrammeStore

log = structlog.get_logger(__name__)


class SweepPage(BaseModel):
    as_of: date
    after: str = ""
    limit: int = 2000
    seller_id: str | None = None


class PagePlan(BaseModel):
    page_size: int


class EnrollmentActivities:
    def __init__(self, store: ProgrammeStore, smtp: SmtpSettings) -> None:
        self.store = store
        self.smtp = smtp

    @activity.defn
    def plan_pages(self, plan: PagePlan) -> list[str]:
        """The cursor of every page, so the sweep can evaluate several pages at once."""
        return self.store.page_starts(plan.page_size)

    @activity.defn
    def evaluate_page(self, page: SweepPage) -> SweepCounts:
        """Evaluate one page of sellers; email each real transition once; save the states.

        Emails go out before states are saved, so a retry after a crash recomputes the same
        transitions and the ledger stops the copies.
        """
        ids = [page.seller_id] if page.seller_id else self.store.seller_page(page.after, page.limit)
        result = SweepCounts()
        contacts = self.store.contacts(ids)
        summaries = self.store.rating_summaries(
            ids, window_start(page.as_of), page.as_of, MIN_SCORE
        )
        known = self.store.enrollments(ids)
        changed: list[Enrollment] = []
        with ExitStack() as stack:
            smtp: smtplib.SMTP | None = None
            ledger: NotificationLedger | None = None  # one connection for the page's keys
            for seller_id in ids:
                contact = contacts.get(seller_id)
                try:
                    if contact is None:
                        raise ValueError("not in the directory")
                    first, good_days = summaries[seller_id]
                    decision = evaluate(
                        contact.account_type,
                        RatingSummary(first_reading=first, days_at_or_above=good_days),
                        contact.phone,
                        contact.marketplace,
                        page.as_of,
                    )
                except Exception as err:  # one seller's bad data fails that seller only
                    result.failures.append(f"{seller_id}: {err}")
                    continue
                result.evaluated += 1
                setattr(result, decision.state, getattr(result, decision.state) + 1)
                previous = known.get(seller_id)
                if previous is not None and previous.state == decision.state:
                    if previous.reasons != decision.reasons:
                        changed.append(
                            Enrollment(seller_id, decision.state, previous.since, decision.reasons)
                        )
                    continue
                record = Enrollment(seller_id, decision.state, page.as_of, decision.reasons)
                kind = email_for_change(previous.state if previous else None, decision.state)
                key = f"enrollment/{seller_id}/{decision.state}/{page.as_of.isoformat()}"
                if ledger is None:
                    ledger = stack.enter_context(self.store.ledger())
                if kind is None or ledger.was_sent(key):
                    changed.append(record)
                    result.changes += 1
                    continue
                if smtp is None:
                    smtp = stack.enter_context(connect(self.smtp))
                subject, body = render_enrollment_email(
                    kind,
                    contact.name,
                    decision.reasons or (previous.reasons if previous else ()),
                    self.smtp.page_url.format(seller_id=seller_id),
                )
                message = build_message(
                    self.smtp, contact.email, subject, body, key, f"enrollment_{kind}", seller_id
                )
                try:
                    deliver(smtp, self.smtp, contact.email, message)
                except ApplicationError as err:
                    if err.type != "EmailRejected":
                        raise
                    result.failures.append(f"{seller_id}: {err.message}")
                    continue  # this seller's state is not saved, so the next sweep retries
                ledger.record_sent(key, "email")
                changed.append(record)
                result.changes += 1
                result.emails += 1
                activity.heartbeat(seller_id)
        self.store.save_enrollments(changed)
        log.info(
            "enrolment page evaluated",
            evaluated=result.evaluated,
            changes=result.changes,
            emails=result.emails,
            failures=len(result.failures),
        )
        return result
