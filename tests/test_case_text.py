"""What people read about a case, from one module: times, durations, labels, whole texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aha.catalogue_file import shipped_catalogue
from aha.domain import case_text
from aha.domain.emails import EmailRequest, Recipient, render
from aha.domain.enrollment import render_enrollment_email
from aha.domain.models import CallAttempt, CaseView, Issue, Plan, TimelineEntry
from aha.domain.policy import Policy
from aha.domain.vocabulary import EnrollmentEmail
from api.page import templates

ROOT = Path(__file__).resolve().parent.parent


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def issue(**overrides: object) -> Issue:
    fields: dict[str, object] = {
        "id": "I1",
        "event_id": "e1",
        "type": "ip_complaint",
        "severity": "high",
        "description": "Trademark complaint",
        "detected_at": utc(2026, 11, 27, 15),
        "opened_at": utc(2026, 11, 27, 15, 1),
        "deadline": utc(2026, 11, 30, 15),
    }
    return Issue.model_validate(fields | overrides)


def view(**overrides: object) -> CaseView:
    fields: dict[str, object] = {
        "case_id": "at-risk-case-acme",
        "seller_id": "acme",
        "marketplace": "US",
        "status": "awaiting_contact",
        "deadline": utc(2026, 11, 30, 15),
        "timezone": "America/New_York",
        "issues": [issue()],
    }
    return CaseView.model_validate(fields | overrides)


# ---- times and durations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "zone", "text"),
    [
        (utc(2026, 3, 9, 15), "America/New_York", "Monday 09 March 2026, 11:00 EDT"),
        (utc(2026, 1, 15, 12), "Asia/Kolkata", "Thursday 15 January 2026, 17:30 IST"),
        (utc(2026, 6, 11, 2), "America/Los_Angeles", "Wednesday 10 June 2026, 19:00 PDT"),
    ],
)
def test_an_email_gives_the_local_date_time_and_zone(
    moment: datetime, zone: str, text: str
) -> None:
    assert case_text.deadline_text(moment, zone) == text


def test_the_page_and_the_cli_give_local_times_their_own_way() -> None:
    moment = utc(2026, 3, 9, 15, 5)
    assert case_text.page_time(moment, "America/Toronto") == "Mon 09 Mar 2026, 11:05 EDT"
    assert case_text.page_time(None, "America/Toronto") == ""
    assert case_text.cli_time(moment, "Europe/Paris") == (
        "2026-03-09 15:05 UTC (Mon 16:05 CET seller time)"
    )
    assert case_text.cli_time(moment, None) == "2026-03-09 15:05 UTC"
    assert case_text.cli_time(None, "Europe/Paris") == "-"


@pytest.mark.parametrize(
    ("left", "text"),
    [
        (timedelta(days=2, hours=3, minutes=4, seconds=5), "2 d 03 h 04 min 05 s"),
        (timedelta(hours=23, seconds=59), "23 h 00 min 59 s"),
        (timedelta(seconds=1), "00 h 00 min 01 s"),
        (timedelta(0), "the deadline has passed"),
        (timedelta(hours=-1), "the deadline has passed"),
    ],
)
def test_the_countdown_counts_from_the_time_it_is_given(left: timedelta, text: str) -> None:
    now = utc(2026, 11, 28, 9)
    assert case_text.countdown(now + left, now) == text


@pytest.mark.parametrize(
    ("duration", "words", "adjective"),
    [
        (timedelta(hours=72), "72 hours", "72-hour"),
        (timedelta(days=2), "48 hours", "48-hour"),
        (timedelta(hours=1), "1 hour", "1-hour"),
        (timedelta(minutes=90), "90 minutes", "90-minute"),
        (timedelta(seconds=45), "45 seconds", "45-second"),
    ],
)
def test_a_policy_duration_reads_in_its_largest_whole_unit(
    duration: timedelta, words: str, adjective: str
) -> None:
    assert case_text.duration_text(duration) == words
    assert case_text.duration_adjective(duration) == adjective


# ---- labels and guidance -------------------------------------------------------------------


def test_an_issue_reads_as_its_detection_described_it() -> None:
    described = issue(type="counterfeit_packaging", label="Counterfeit packaging",
                      guidance=["Photograph it.", "Send it."])  # fmt: skip
    assert case_text.issue_label(described, shipped_catalogue()) == "Counterfeit packaging"
    assert case_text.issue_steps(described, shipped_catalogue()) == ["Photograph it.", "Send it."]
    assert case_text.call_guidance(
        [described, issue(id="I2", type="fraud")], shipped_catalogue()
    ) == [
        "I1: Photograph it.",
        "I1: Send it.",
        *(f"I2: {step}" for step in shipped_catalogue().guidance("fraud")),
    ]


def test_an_older_issue_reads_from_the_catalogue() -> None:
    older = issue()  # no label, no guidance: opened before events carried them
    assert case_text.issue_label(older, shipped_catalogue()) == "IP complaint"
    assert case_text.issue_steps(older, shipped_catalogue()) == shipped_catalogue().guidance(
        "ip_complaint"
    )
    ops = shipped_catalogue().extended('[issue_types.ip_complaint]\nlabel = "IP claim"\n', "ops")
    assert case_text.issue_label(older, ops) == "IP claim"


# ---- whole texts ---------------------------------------------------------------------------


def test_the_ui_details_are_the_markdown_the_workflow_published() -> None:
    busy = view(
        next_call_at=utc(2026, 11, 28, 13, 30),
        issues=[issue(), issue(id="I2", type="fraud", status="resolved")],
        call_attempts=[
            CallAttempt(
                number=n,
                seller_initiated=n == 4,
                scheduled_for=utc(2026, 11, 27, 16),
                placed_at=utc(2026, 11, 27, 16, n) if n < 4 else None,
                outcome="no_answer" if n < 3 else None,
            )
            for n in range(1, 5)
        ],
    )
    assert case_text.details_markdown(busy) == (
        "- **Status:** `awaiting_contact`\n"
        "- **Deadline:** 2026-11-30 15:00 UTC (Monday 30 November 2026, 10:00 EST)\n"
        "- **Next scheduled call:** 2026-11-28 13:30 UTC (Saturday 28 November 2026, 08:30 EST)\n"
        "\n"
        "| issue | type | severity | status | deadline (UTC) |\n"
        "|---|---|---|---|---|\n"
        "| I1 | ip_complaint | high | open | 2026-11-30 15:00 |\n"
        "| I2 | fraud | high | resolved | 2026-11-30 15:00 |\n"
        "\n"
        "**Last attempts:**\n"
        "\n"
        "- #2 (proactive) 2026-11-27 16:02 UTC: no_answer\n"
        "- #3 (proactive) 2026-11-27 16:03 UTC: pending\n"
        "- #4 (seller) dialling: pending"
    )
    stopped = view(timezone=None, calling_stopped_reason="the number is invalid")
    assert case_text.details_markdown(stopped).splitlines()[:3] == [
        "- **Status:** `awaiting_contact`",
        "- **Deadline:** 2026-11-30 15:00 UTC ()",
        "- **Calling stopped:** the number is invalid",
    ]
    closed = view(status="deactivated", deadline=None, calling_stopped_reason="closed", issues=[])
    assert case_text.details_markdown(closed) == (
        "- **Status:** `deactivated`\n\n"
        "| issue | type | severity | status | deadline (UTC) |\n|---|---|---|---|---|"
    )


def test_the_cli_prints_the_case_in_full() -> None:
    shown = view(
        status="plan_under_review",
        call_attempts=[CallAttempt(number=1, seller_initiated=False,
                                   scheduled_for=utc(2026, 11, 27, 16),
                                   placed_at=utc(2026, 11, 27, 16, 2), outcome="answered")],
        plan=Plan(root_cause="r", corrective_actions=["a"], preventive_measures=["p"],
                  issue_ids=["I1"], submitted_at=utc(2026, 11, 27, 17), submitted_by="seller",
                  review_state="info_requested", questions=["Which supplier?"]),
        timeline=[TimelineEntry(at=utc(2026, 11, 27, 15, 1, 2), kind="case_opened",
                                detail="opened", who="detector:x")],
    )  # fmt: skip
    assert case_text.case_summary(shown) == "\n".join(
        [
            "case at-risk-case-acme  seller acme  status plan_under_review",
            "deadline: 2026-11-30 15:00 UTC (Mon 10:00 EST seller time)",
            "issues:",
            "  I1 ip_complaint (high) open deadline 2026-11-30 15:00 UTC",
            "call attempts:",
            "  #1 proactive 2026-11-27 16:02 answered",
            "plan: info_requested for I1",
            "  question: Which supplier?",
            "timeline:",
            "  2026-11-27 15:01:02 case_opened [detector:x] opened",
        ]
    )


def test_emails_take_the_issues_label_and_guidance() -> None:
    to = Recipient(name="Acme", email="ops@acme.example", timezone="America/New_York",
                   page_url="http://page")  # fmt: skip
    described = issue(label="IP claim", guidance=["Talk to the brand."])
    request = EmailRequest(key="k", seller_id="acme", kind="issue_opened", issues=[described],
                           deadline=described.deadline)  # fmt: skip
    _, body = render(request, to, shipped_catalogue())
    assert "Issue I1: IP claim (high severity)\n" in body
    assert "  What to do, step by step:\n  1. Talk to the brand.\n" in body
    assert "Deadline: Monday 30 November 2026, 10:00 EST" in body


def test_the_enrolment_emails_say_the_policys_deadline() -> None:
    for kind in EnrollmentEmail:
        default = render_enrollment_email(kind, "Acme", ("a reason",), "http://page")
        assert default == render_enrollment_email(
            kind, "Acme", ("a reason",), "http://page", Policy().deadline
        )
    _, enrolled = render_enrollment_email(
        EnrollmentEmail.ENROLLED, "Acme", (), "http://page", timedelta(hours=48)
    )
    assert "dedicated team has 48 hours to reach you" in enrolled
    _, lost = render_enrollment_email(
        EnrollmentEmail.PROTECTION_LOST, "Acme", ("r",), "http://page", timedelta(hours=48)
    )
    assert "without the 48-hour protection" in lost
    _, default_lost = render_enrollment_email(EnrollmentEmail.PROTECTION_LOST, "A", ("r",), "u")
    assert "without the 72-hour protection" in default_lost


def test_the_page_says_the_cases_deadline_and_the_issues_own_words() -> None:
    closed = view(
        status="deactivated",
        closure_reason="immediate_policy",
        policy=Policy(deadline=timedelta(hours=48)),
        issues=[issue(label="IP claim", guidance=["Talk to the brand."])],
    )
    html = templates.get_template("_live.html").render(
        case=closed,
        status_text=case_text.STATUS_TEXT,
        local=lambda moment: case_text.page_time(moment, "America/New_York"),
        remaining=lambda deadline: "",
        label=lambda issue: case_text.issue_label(issue, shipped_catalogue()),
        steps=lambda issue: case_text.issue_steps(issue, shipped_catalogue()),
        deadline_span=case_text.duration_text(timedelta(hours=48)),
        pending_seller_call=None,
        contact=None,
        csrf="",
    )
    assert "Account deactivated" in html
    assert "cannot wait for the usual 48 hours" in html
    assert "<strong>IP claim</strong>" in html


def test_no_copy_says_the_default_deadline_or_lists_the_issue_types() -> None:
    copy = [ROOT / "aha/domain/emails.py", ROOT / "aha/domain/enrollment.py",
            ROOT / "aha/domain/case_text.py", *(ROOT / "api/templates").glob("*.html")]  # fmt: skip
    for path in copy:
        text = path.read_text(encoding="utf-8")
        assert "72 hours" not in text and "72-hour" not in text, path
        assert "ip_complaint" not in text and "suspected_ip_violation" not in text, path
