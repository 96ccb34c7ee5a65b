"""Evaluating a page of sellers for the programme and telling those whose state changed."""

from __future__ import annotations

import smtplib
from contextlib import ExitStack
from datetime import date
from email.header import Header
from email.message import Message
from email.utils import formatdate

import structlog
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import SmtpSettings
from aha.directory import NotificationLedger
from aha.eligibility import MIN_SCORE, RatingSummary, evaluate, window_start
from aha.enrollment import email_for_change, render_enrollment_email
from aha.programme_store import Enrollment, ProgrammeStore

log = structlog.get_logger(__name__)


class SweepPage(BaseModel):
    as_of: date
    after: str = ""
    limit: int = 2000
    seller_id: str | None = None


class PagePlan(BaseModel):
    page_size: int


class PageResult(BaseModel):
    next_after: str | None
    evaluated: int = 0
    enrolled: int = 0
    eligible_missing_phone: int = 0
    not_eligible: int = 0
    changes: int = 0
    emails: int = 0
    failures: list[str] = []


class EnrollmentActivities:
    def __init__(self, store: ProgrammeStore, smtp: SmtpSettings) -> None:
        self.store = store
        self.smtp = smtp

    @activity.defn
    def plan_pages(self, plan: PagePlan) -> list[str]:
        """The cursor of every page, so the sweep can evaluate several pages at once."""
        return self.store.page_starts(plan.page_size)

    @activity.defn
    def evaluate_page(self, page: SweepPage) -> PageResult:
        """Evaluate one page of sellers; email each real transition once; save the states.

        Emails go out before states are saved, so a retry after a crash recomputes the same
        transitions and the ledger stops the copies.
        """
        ids = [page.seller_id] if page.seller_id else self.store.seller_page(page.after, page.limit)
        result = PageResult(next_after=None if page.seller_id or len(ids) < page.limit else ids[-1])
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
                changed.append(record)
                result.changes += 1
                kind = email_for_change(previous.state if previous else None, decision.state)
                key = f"enrollment/{seller_id}/{decision.state}/{page.as_of.isoformat()}"
                if kind is None:
                    continue
                if ledger is None:
                    ledger = stack.enter_context(self.store.ledger())
                if ledger.was_sent(key):
                    continue
                if smtp is None:
                    smtp = stack.enter_context(
                        smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=10)
                    )
                subject, body = render_enrollment_email(
                    kind,
                    contact.name,
                    decision.reasons or (previous.reasons if previous else ()),
                    self.smtp.page_url.format(seller_id=seller_id),
                )
                self._send(smtp, ledger, contact.email, seller_id, kind, key, subject, body)
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

    def _send(
        self, smtp: smtplib.SMTP, ledger: NotificationLedger, to: str, seller_id: str,
        kind: str, key: str, subject: str, body: str,
    ) -> None:  # fmt: skip
        # The compat32 Message builds five times faster than EmailMessage, which matters when
        # a first sweep enrols a whole marketplace; headers and body are encoded the same way.
        message = Message()
        message["From"] = self.smtp.sender
        message["To"] = to
        message["Subject"] = Header(subject, "utf-8").encode()
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{key.replace('/', '.')}@aha.local>"
        message["X-Aha-Kind"] = f"enrollment_{kind}"
        message["X-Aha-Seller"] = seller_id
        message.set_payload(body, "utf-8")
        try:
            smtp.sendmail(self.smtp.sender, [to], message.as_bytes())
        except (smtplib.SMTPException, OSError) as err:
            raise ApplicationError(
                f"mail server unavailable ({type(err).__name__})", type="EmailUnavailable"
            ) from None
        ledger.record_sent(key, "email")
