"""The mailer (`aha.ports.Mailer`) over SMTP with smtplib."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.utils import formatdate

from aha.ports import MailRejected, MailUnavailable, OutgoingEmail


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 1025
    sender: str = "account-health@aha.local"


def build_message(sender: str, email: OutgoingEmail) -> Message:
    # The compat32 Message builds five times faster than EmailMessage, which matters when a
    # first enrolment sweep writes to a whole marketplace.
    message = Message()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = Header(email.subject, "utf-8").encode()
    message["Date"] = formatdate(localtime=False)
    # A deterministic Message-ID lets a mail system drop the copy that a crash between
    # sending and recording could still produce.
    message["Message-ID"] = f"<{email.key.replace('/', '.')}@aha.local>"
    message["X-Aha-Kind"] = email.kind
    message["X-Aha-Seller"] = email.seller_id
    message.set_payload(email.body, "utf-8")
    return message


def _unavailable(err: BaseException) -> MailUnavailable:
    # The type only: an SMTP error's text may carry an address, which must stay out of
    # Temporal's history.
    return MailUnavailable(f"mail server unavailable ({type(err).__name__})")


class SmtpConnection:
    def __init__(self, smtp: smtplib.SMTP, sender: str) -> None:
        self._smtp = smtp
        self._sender = sender

    def send(self, email: OutgoingEmail) -> None:
        message = build_message(self._sender, email)
        try:
            # As a str, smtplib turns the bare newlines into CRLF; bytes would go as one line.
            self._smtp.sendmail(self._sender, [email.to], message.as_string())
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused):
            raise MailRejected("the mail server refused the message") from None
        except (smtplib.SMTPException, OSError) as err:
            raise _unavailable(err) from None


class SmtpMailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    @contextmanager
    def connect(self) -> Iterator[SmtpConnection]:
        """A session on the server; leaving the block says QUIT and closes it."""
        try:
            # Short socket timeouts keep one attempt well inside its 60 s activity timeout,
            # so a slow attempt is not still sending while its retry starts.
            smtp = smtplib.SMTP(self.settings.host, self.settings.port, timeout=10)
        except OSError as err:
            raise _unavailable(err) from None
        with smtp:
            yield SmtpConnection(smtp, self.settings.sender)
