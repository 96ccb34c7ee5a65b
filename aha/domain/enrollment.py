"""Which enrolment change earns an email, and what it says. Pure functions."""

from __future__ import annotations

from datetime import timedelta

from aha.domain.case_text import duration_adjective, duration_text
from aha.domain.policy import Policy
from aha.domain.vocabulary import EnrollmentEmail, EnrollmentState

DEFAULT_DEADLINE = Policy().deadline


def email_for_change(previous: str | None, current: str) -> EnrollmentEmail | None:
    """Exactly one email per transition that matters to the seller, none when nothing changed."""
    if previous == current:
        return None
    if previous == EnrollmentState.ENROLLED:
        return EnrollmentEmail.PROTECTION_LOST
    if current == EnrollmentState.ENROLLED:
        return EnrollmentEmail.ENROLLED
    if current == "eligible_missing_phone":
        return EnrollmentEmail.MISSING_PHONE
    return None


def render_enrollment_email(
    kind: EnrollmentEmail,
    name: str,
    reasons: tuple[str, ...],
    page_url: str,
    deadline: timedelta = DEFAULT_DEADLINE,
) -> tuple[str, str]:
    """Subject and body; `deadline` is the policy's, the time the team has before deactivation."""
    greeting = f"Hello {name},\n\n"
    if kind == "enrolled":
        subject = "You are enrolled in Account Health Assurance"
        body = (
            "Your account has kept a strong Account Health Rating, so it is now protected by "
            "Account Health Assurance. There is no fee. If an issue is ever found, our "
            f"dedicated team has {duration_text(deadline)} to reach you and fix it with you "
            "before any deactivation. Keep your emergency contact number up to date."
        )
    elif kind == "missing_phone":
        subject = "You qualify for Account Health Assurance: add an emergency phone"
        body = (
            "Your Account Health Rating qualifies your account for Account Health Assurance, "
            "free of charge. To be enrolled we need a valid emergency contact number, so our "
            f"team can call you if an issue is found. Add it here:\n  {page_url}\n\n"
            "Why you are not enrolled yet:\n" + "\n".join(f"  - {r}" for r in reasons)
        )
    else:
        subject = "Your account is no longer protected by Account Health Assurance"
        body = (
            "Your account no longer meets the requirements of Account Health Assurance, so "
            "issues will follow the standard process without the "
            f"{duration_adjective(deadline)} protection.\n\n"
            "Why:\n" + "\n".join(f"  - {r}" for r in reasons)
        )
    return subject, greeting + body + "\n\nAccount Health Assurance team\n"
