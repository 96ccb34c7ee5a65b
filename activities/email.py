"""Sending seller emails through the mailer, at most once per idempotency key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from aha.domain.catalogue import Catalogue
from aha.domain.emails import EmailRequest, Recipient, render
from aha.ports import (
    DeliveryLedger,
    Mailer,
    MailRejected,
    MailUnavailable,
    OutgoingEmail,
    SellerDirectory,
)

log = structlog.get_logger(__name__)

# Longer than one attempt may take (its 60 s timeout), so a live attempt is never overtaken;
# a claim whose worker died is free again once this has passed.
CLAIM_HOLD = timedelta(seconds=75)

Delivery = Literal["sent", "already_sent", "dropped"]

EMAILS = "aha_emails"
# The `result` of a delivery attempt that raised, by the error's type.
FAILED_RESULTS = {
    "DeliveryBusy": "busy",
    "EmailRejected": "rejected",
    "EmailUnavailable": "unavailable",
    "UnknownSeller": "unknown_seller",
}


def rejected(err: MailRejected) -> ApplicationError:
    return ApplicationError(str(err), type="EmailRejected", non_retryable=True)


def unavailable(err: MailUnavailable) -> ApplicationError:
    return ApplicationError(str(err), type="EmailUnavailable")


class EmailActivities:
    def __init__(
        self,
        mailer: Mailer,
        directory: SellerDirectory,
        deliveries: DeliveryLedger,
        catalogue: Catalogue,
        page_url: str = "http://127.0.0.1:8000/account-health/{seller_id}",
    ) -> None:
        self.mailer = mailer
        self.directory = directory
        self.deliveries = deliveries
        self.catalogue = catalogue
        self.page_url = page_url

    def _email(self, request: EmailRequest) -> OutgoingEmail:
        contact = self.directory.get(request.seller_id)
        if contact is None:
            raise ApplicationError(
                f"unknown seller {request.seller_id!r}", type="UnknownSeller", non_retryable=True
            )
        to = Recipient(
            name=contact.name,
            email=contact.email,
            timezone=contact.timezone,
            page_url=self.page_url.format(seller_id=contact.seller_id),
        )
        subject, body = render(request, to, self.catalogue)
        return OutgoingEmail(
            to=to.email,
            subject=subject,
            body=body,
            key=request.key,
            kind=request.kind,
            seller_id=request.seller_id,
        )

    @activity.defn
    def deliver_email(self, request: EmailRequest) -> Delivery:
        """Send the email once across every worker; "dropped" when its case run was sealed.

        Every attempt counts in `aha_emails` by kind and result (a retried one again).
        """
        try:
            delivery = self._deliver(request)
        except Exception as err:
            failure = err.type if isinstance(err, ApplicationError) else None
            _count_email(request, FAILED_RESULTS.get(failure or "", "error"))
            raise
        _count_email(request, delivery)
        return delivery

    def _deliver(self, request: EmailRequest) -> Delivery:
        """The step is claimed before the send and marked sent between the server's
        acceptance and the end of the mail session, on a database connection already open."""
        workflow_id = activity.info().workflow_id
        with self.deliveries.claim(request.key, "email", CLAIM_HOLD, request.fence) as claim:
            if claim.outcome == "busy":
                raise ApplicationError("another worker is sending this email", type="DeliveryBusy")
            if claim.outcome == "sealed":
                log.info("email dropped: its case closed", kind=request.kind,
                         seller_id=request.seller_id, workflow_id=workflow_id)  # fmt: skip
                return "dropped"
            if claim.outcome == "already_sent":
                return "already_sent"
            email = self._email(request)
            # Heartbeats let Temporal see a dead worker's attempt in seconds, not a minute.
            activity.heartbeat("connecting")
            try:
                with self.mailer.connect() as mail:
                    activity.heartbeat("sending")
                    mail.send(email)
                    claim.mark_sent()
            except MailRejected as err:
                raise rejected(err) from None
            except MailUnavailable as err:
                raise unavailable(err) from None
        log.info("email sent", kind=request.kind, seller_id=request.seller_id,
                 workflow_id=workflow_id)  # fmt: skip
        return "sent"

    @activity.defn
    def send_email(self, request: EmailRequest) -> bool:
        """The email of a case opened before ordered notices; True when it went out now.

        It goes through the same claims as `deliver_email`, so running older cases are
        safe with several workers too.
        """
        return self.deliver_email(request) == "sent"


def _count_email(request: EmailRequest, result: str) -> None:
    count_emails({(str(request.kind), result): 1})


def count_emails(tally: Mapping[tuple[str, str], int]) -> None:
    """Add delivery attempts to `aha_emails`, by (kind, result)."""
    counter = activity.metric_meter().create_counter(
        EMAILS, "Email delivery attempts, by kind and result"
    )
    for (kind, result), attempts in tally.items():
        counter.add(attempts, {"kind": kind, "result": result})
