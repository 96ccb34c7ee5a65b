"""Telling the team about SLA clocks: warnings to the case's owner, breaches to supervisors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import CLAIM_HOLD, count_emails, rejected, unavailable
from aha.domain.models import StaffAlert
from aha.domain.staff_alerts import render_staff_alert
from aha.domain.vocabulary import StaffAlertKind
from aha.ports import DeliveryLedger, Mailer, MailRejected, MailUnavailable, OutgoingEmail

log = structlog.get_logger(__name__)

__all__ = ["CLAIM_HOLD", "StaffActivities"]


class StaffActivities:
    def __init__(
        self,
        mailer: Mailer,
        deliveries: DeliveryLedger,
        supervisors: Sequence[str],
        console_url: str,
        hold: timedelta = CLAIM_HOLD,
    ) -> None:
        self.mailer = mailer
        self.deliveries = deliveries
        self.supervisors = tuple(supervisors)
        self.console_url = console_url
        self.hold = hold

    def recipients(self, alert: StaffAlert) -> tuple[str, ...]:
        if alert.kind == StaffAlertKind.SLA_WARNING:
            return (alert.owner_email,) if alert.owner_email else ()
        return self.supervisors

    @activity.defn
    def alert_staff(self, alert: StaffAlert) -> str:
        """Email the alert to each recipient at most once; says whom it told, for the timeline."""
        to = self.recipients(alert)
        if not to and alert.kind == StaffAlertKind.SLA_WARNING:
            return "no one emailed: the owner has no email address"
        if not to:
            return "no one emailed: AHA_SUPERVISOR_EMAIL is not set"
        subject, body = render_staff_alert(
            alert, self.console_url.format(seller_id=alert.seller_id)
        )
        for address in to:
            self._send_once(alert, address, subject, body)
        return f"emailed {', '.join(to)}"

    def _send_once(self, alert: StaffAlert, address: str, subject: str, body: str) -> None:
        key = f"{alert.key}/{address}"
        with self.deliveries.claim(key, "email", self.hold) as claim:
            if claim.outcome == "busy":
                raise ApplicationError("another worker is sending this alert", type="DeliveryBusy")
            if claim.outcome != "claimed":
                return  # sent by an earlier attempt
            email = OutgoingEmail(
                to=address, subject=subject, body=body, key=key, kind=alert.kind,
                seller_id=alert.seller_id,
            )  # fmt: skip
            try:
                with self.mailer.connect() as mail:
                    mail.send(email)
                    claim.mark_sent()
            except MailRejected as err:
                count_emails({(str(alert.kind), "rejected"): 1})
                raise rejected(err) from None
            except MailUnavailable as err:
                count_emails({(str(alert.kind), "unavailable"): 1})
                raise unavailable(err) from None
        count_emails({(str(alert.kind), "sent"): 1})
        log.info("staff alert sent", kind=alert.kind, seller_id=alert.seller_id)
