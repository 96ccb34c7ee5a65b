"""Evaluating a page of sellers for the programme and telling those whose state changed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from time import monotonic

import structlog
from pydantic import BaseModel
from temporalio import activity

from activities.email import count_emails, unavailable
from aha.domain.contact import SellerContact
from aha.domain.eligibility import MIN_SCORE, RatingSummary, evaluate, window_start
from aha.domain.enrollment import email_for_change, render_enrollment_email
from aha.domain.models import SweepCounts
from aha.domain.policy import Policy
from aha.domain.programme import Enrollment
from aha.domain.vocabulary import EnrollmentEmail
from aha.ports import (
    MailConnection,
    Mailer,
    MailRejected,
    MailUnavailable,
    OutgoingEmail,
    ProgrammeStore,
)

log = structlog.get_logger(__name__)


# The sweep's heartbeat timeout is minutes. A heartbeat crosses to the worker's event loop and
# is encoded there, which costs more than the email's ledger record: one a second is plenty.
HEARTBEAT_EVERY_S = 1.0

# Keys looked up in the ledger at once. Small, so that an attempt that resumes after a stall
# sees what a retry sent meanwhile about as soon as a look-up per key would have.
LEDGER_BATCH = 100


@dataclass(frozen=True)
class Transition:
    """A seller whose state changed in a way that is emailed."""

    contact: SellerContact
    record: Enrollment
    kind: EnrollmentEmail
    reasons: tuple[str, ...]

    def key(self, as_of: date) -> str:
        return f"enrollment/{self.record.seller_id}/{self.record.state}/{as_of.isoformat()}"


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
        transitions: list[Transition] = []
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
            if kind is None:
                changed.append(record)
                result.changes += 1
                continue
            reasons = decision.reasons or (previous.reasons if previous else ())
            transitions.append(Transition(contact, record, kind, reasons))
        if transitions:
            self._tell(transitions, page.as_of, changed, result)
        self.store.save_enrollments(changed)
        log.info(
            "enrolment page evaluated",
            evaluated=result.evaluated,
            changes=result.changes,
            emails=result.emails,
            failures=len(result.failures),
        )
        return result

    def _tell(
        self,
        transitions: Sequence[Transition],
        as_of: date,
        changed: list[Enrollment],
        result: SweepCounts,
    ) -> None:
        """Email each transition once, recording each send before the next one.

        Which keys were already sent is looked up a batch at a time, just before that batch
        is sent: one round trip per batch instead of one per seller, over one connection.
        """
        with ExitStack() as stack:
            ledger = stack.enter_context(self.store.ledger())
            # Counted in aha_emails once per page, even when the page fails part-way.
            tally: Counter[tuple[str, str]] = Counter()
            stack.callback(count_emails, tally)
            mail: MailConnection | None = None
            last_beat = monotonic()
            for start in range(0, len(transitions), LEDGER_BATCH):
                batch = transitions[start : start + LEDGER_BATCH]
                keys = [t.key(as_of) for t in batch]
                sent = ledger.sent_among(keys)
                for transition, key in zip(batch, keys, strict=True):
                    kind = f"enrollment_{transition.kind}"
                    if key in sent:
                        tally[kind, "already_sent"] += 1
                        changed.append(transition.record)
                        result.changes += 1
                        continue
                    if mail is None:
                        mail = stack.enter_context(self._connect())
                    contact = transition.contact
                    subject, body = render_enrollment_email(
                        transition.kind,
                        contact.name,
                        transition.reasons,
                        self.page_url.format(seller_id=contact.seller_id),
                        self.policy().deadline,
                    )
                    email = OutgoingEmail(
                        to=contact.email,
                        subject=subject,
                        body=body,
                        key=key,
                        kind=kind,
                        seller_id=contact.seller_id,
                    )
                    try:
                        mail.send(email)
                    except MailRejected as err:
                        tally[kind, "rejected"] += 1
                        result.failures.append(f"{contact.seller_id}: {err}")
                        continue  # this seller's state is not saved, so the next sweep retries
                    except MailUnavailable as err:
                        tally[kind, "unavailable"] += 1
                        raise unavailable(err) from None
                    tally[kind, "sent"] += 1
                    ledger.record_sent(key, "email")
                    changed.append(transition.record)
                    result.changes += 1
                    result.emails += 1
                    if monotonic() - last_beat >= HEARTBEAT_EVERY_S:
                        activity.heartbeat(contact.seller_id)
                        last_beat = monotonic()

    @contextmanager
    def _connect(self) -> Iterator[MailConnection]:
        try:
            with self.mailer.connect() as mail:
                yield mail
        except MailUnavailable as err:
            raise unavailable(err) from None
