"""Sending seller emails over SMTP, at most once per idempotency key."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from aha.directory import NotificationLedger, SellerDirectory
from aha.emails import EmailRequest, Recipient, render

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 1025
    sender: str = "account-health@aha.local"
    page_url: str = "http://127.0.0.1:8000/account-health/{seller_id}"


class EmailActivities:
    def __init__(
        self, smtp: SmtpSettings, directory: SellerDirectory, ledger: NotificationLedger
    ) -> None:
        self.smtp = smtp
        self.directory = directory
        self.ledger = ledger

    @activity.defn
    def send_email(self, request: EmailRequest) -> bool:
        """Send the email unless this key was sent before; True when it went out now."""
        if self.ledger.was_sent(request.key):
            log.info(
                "email already sent",
                kind=request.kind,
                seller_id=request.seller_id,
                workflow_id=activity.info().workflow_id,
            )
            return False
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
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = to.email
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        # A deterministic Message-ID lets a mail system drop the copy that a crash between
        # sending and recording could still produce.
        message["Message-ID"] = f"<{request.key.replace('/', '.')}@aha.local>"
        message["X-Aha-Kind"] = request.kind
        message["X-Aha-Seller"] = request.seller_id
        message.set_content(body)
        try:
            # Short socket timeouts keep one attempt well inside its 60 s activity timeout, so
            # a slow attempt is not still sending while its retry starts.
            with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=10) as smtp:
                smtp.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused):
            # These messages quote the address; Temporal would keep it in history.
            raise ApplicationError(
                "the mail server refused the message", type="EmailRejected", non_retryable=True
            ) from None
        except (smtplib.SMTPException, OSError) as err:
            raise ApplicationError(
                f"mail server unavailable ({type(err).__name__})", type="EmailUnavailable"
            ) from None
        self.ledger.record_sent(request.key, "email")
        log.info(
            "email sent",
            kind=request.kind,
            seller_id=request.seller_id,
            workflow_id=activity.info().workflow_id,
        )
        return True
