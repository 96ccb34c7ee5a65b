"""What a case hands over when it wants a call placed."""

from __future__ import annotations

from pydantic import BaseModel


class CallTask(BaseModel):
    """What the person or system placing the call needs: never the number itself."""

    key: str
    case_id: str
    seller_id: str
    attempt: int
    seller_initiated: bool
    issue_types: list[str]
    guidance: list[str]
    # The case run that asked for the call: once it is sealed (closed), nothing is dialled.
    run_id: str = ""
    fence: str | None = None
    # The consent edition: ask consent and the do-not-call list just before dialling.
    check_consent: bool = False
