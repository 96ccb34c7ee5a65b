"""An action a case refuses: its kind, the message for the person who asked, and per-field
reasons a form can show beside each field. A refused action changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aha.domain.models import DetectionReceipt
from aha.domain.vocabulary import RefusalKind


@dataclass(frozen=True)
class FieldReason:
    field: str
    reason: str


class Refusal(Exception):
    def __init__(
        self,
        kind: RefusalKind,
        message: str,
        reasons: Sequence[FieldReason] = (),
        receipt: DetectionReceipt | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.reasons = tuple(reasons)
        # For a redelivered event: the answer the case gave the first time.
        self.receipt = receipt


def invalid_field(kind: RefusalKind, field: str, reason: str) -> Refusal:
    return Refusal(kind, reason, [FieldReason(field, reason)])
