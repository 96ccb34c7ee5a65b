"""Evaluating a page of sellers for the programme and telling those whose state changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date

import structlog
from pydantic import BaseModel
from temporalio import activity

from activities.email import unavailable
from aha.domain.eligibility import MIN_SCORE, RatingSummary, evaluate, window_start
from aha.domain.enrollment import email_for_change, render_enrollment_email
from aha.domain.models import SweepCounts
from aha.domain.policy import Policy
from aha.domain.programme import Enrollment
from aha.ports import (
    MailConnection,
    Mailer,
    MailRejected,
    MailUnavailable,
    NotificationLedger,
    OutgoingEmail,
    ProgrammeStore,
)

log = structlog.get_logger(__name__)


class SweepPage(BaseModel):
    as_of: date
    after: str = ""
    limit: int = 2000
    seller_id: str | None = None


class PagePlan(BaseModel):
    page_size: int


class EnrollmentActivities:
    def __init__(
        self,
        store: ProgrammeStore,
        mailer: Mailer,
        page_url: str = "http://127.0.0.1:8000/account-health/{seller_id}",
        policy: Callable[[], Policy] = Policy,
    ) -> None:
        self.store = store
        self.mailer = mailer
        self.page_url = page_url
        self.policy = policy  # the enrolment email says how long the team has

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
            mail: MailConnection | None = None
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
                if mail is None:
                    mail = stack.enter_context(self._connect())
                subject, body = render_enrollment_email(
                    kind,
                    contact.name,
                    decision.reasons or (previous.reasons if previous else ()),
                    self.page_url.format(seller_id=seller_id),
                    self.policy().deadline,
                )
                email = OutgoingEmail(
                    to=contact.email,
                    subject=subject,
                    body=body,
                    key=key,
                    kind=f"enrollment_{kind}",
                    seller_id=seller_id,
                )
                try:
                    mail.send(email)
                except MailRejected as err:
                    result.failures.append(f"{seller_id}: {err}")
                    continue  # this seller's state is not saved, so the next sweep retries
                except MailUnavailable as err:
                    raise unavailable(err) from None
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

    @contextmanager
    def _connect(self) -> Iterator[MailConnection]:
        try:
            with self.mailer.connect() as mail:
                yield mail
        except MailUnavailable as err:
            raise unavailable(err) from None
