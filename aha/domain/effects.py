"""What a case decides to do in the world; the workflow around it carries each one out."""

from __future__ import annotations

from dataclasses import dataclass

from aha.domain.emails import EmailRequest
from aha.domain.models import CallAttempt, StaffAlert
from aha.domain.vocabulary import ClosureReason


@dataclass(frozen=True)
class SendEmail:
    request: EmailRequest


@dataclass(frozen=True)
class PlaceCall:
    attempt: CallAttempt


@dataclass(frozen=True)
class Deactivate:
    """The deadline or a rule has won: deactivate the account, then close the case."""

    reason: ClosureReason


@dataclass(frozen=True)
class CloseResolved:
    """Every issue is resolved: close the case."""


@dataclass(frozen=True)
class AlertStaff:
    """Tell the team about an SLA clock: its owner at a warning, the supervisors at a breach."""

    alert: StaffAlert


Effect = SendEmail | PlaceCall | Deactivate | CloseResolved | AlertStaff
