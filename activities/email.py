"""Sending seller emails over SMTP, at most once per idempotency key."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import timedelta
from email.header import Header
from email.message import Message
from email.utils import formatdate
from typing import Literal

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from aha.directory import SellerDirectory
from aha.domain.emails import EmailRequest, Recipient, render
from aha.ledger import DeliveryLedger

log = structlog.get_logger(__name__)

# Longer than one attempt may take (its 60 s timeout), so a live attempt is never overtaken;
# a claim whose worker died is free again once this has passed.
CLAIM_HOLD = timedelta(seconds=75)

Delivery = Literal["sent", "already_sent", "dropped"]


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 1025
    sender: str = "account-health@aha.local"
    page_url: str = "http://127.0.0.1:8000/account-health/{seller_id}"


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    # Short socket timeouts keep one attempt well inside its 60 s activity timeout, so a
    # slow attempt is not still sending while its retry starts.
    return smtplib.SMTP(settings.host, settings.port, timeout=10)


def build_message(
    settings: SmtpSettings, to: str, subject: str, body: str, key: str, kind: str,
    seller_id: str,
) -> Message:  # fmt: skip
    # The compat32 Message builds five times faster than EmailMessage, which matters when a
    # first enrolment sweep writes to a whole marketplace.
    message = Message()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = Header(subject, "utf-8").encode()
    message["Date"] = formatdate(localtime=False)
    # A deterministic Message-ID lets a mail system drop the copy that a crash between
    # sending and recording could still produce.
    message["Message-ID"] = f"<{key.replace('/', '.')}@aha.local>"
    message["X-Aha-Kind"] = kind
    message["X-Aha-Seller"] = seller_id
    message.set_payload(body, "utf-8")
    return message


def deliver(smtp: smtplib.SMTP, settings: SmtpSettings, to: str, message: Message) -> None:
    """Send, turning SMTP errors into ones that carry no address into Temporal's history."""
    try:
        # As a str, smtplib turns the bare newlines into CRLF; bytes would go as one long line.
        smtp.sendmail(settings.sender, [to], message.as_string())
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused):
        raise ApplicationError(
            "the mail server refused the message", type="EmailRejected", non_retryable=True
        ) from None
    except (smtplib.SMTPException, OSError) as err:
        raise ApplicationError(
            f"mail server unavailable ({type(err).__name__})", type="EmailUnavailable"
        ) from None


class EmailActivities:
    def __init__(
        self,
        smtp: SmtpSettings,
        directory: SellerDirectory,
        deliveries: DeliveryLedger,
    ) -> None:
        self.smtp = smtp
        self.directory = directory
        self.deliveries = deliveries

    def _message(self, request: EmailRequest) -> tuple[str, Message]:
        contact = self.directory.get(request.seller_id)
        if contact is None:
            raise ApplicationError(
                f"unknown seller {request.seller_id!r}", type="UnknownSeller", non_retryable=True
            )
        to = Recipient(
            name=contact.name,
            email=contact.email,
            timezone=contact.timezone,
            page_url=self.smtp.page_url.format(seller_id=contact.seller_id),
        )
        subject, body = render(request, to)
        message = build_message(
            self.smtp, to.email, subject, body, request.key, request.kind, request.seller_id
        )
        return to.email, message

    @activity.defn
    def deliver_email(self, request: EmailRequest) -> Delivery:
        """Send the email once across every worker; "dropped" when its case run was sealed.

        The step is claimed before the send and marked sent between the server's acceptance
        and QUIT, on a database connection already open.
        """
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
            to, message = self._message(request)
            # Heartbeats let Temporal see a dead worker's attempt in seconds, not a minute.
            activity.heartbeat("connecting")
            try:
                smtp = connect(self.smtp)
            except OSError as err:
                raise ApplicationError(
                    f"mail server unavailable ({type(err).__name__})", type="EmailUnavailable"
                ) from None
            with smtp:
                activity.heartbeat("sending")
                deliver(smtp, self.smtp, to, message)
                claim.mark_sent()
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
