"""The specialists' console at the HTTP level, over the real API server, worker and board.

The browser tests (test_console_browser.py) cover what a specialist does; these cover the
sign-in rules, forged and odd requests (a page or a plain refusal, never a change), the queue
read from real board rows, and the dashboard's numbers and CSV files.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from aha.domain.policy import CallingCalendar
from api.console_case import SECTIONS
from tests.conftest import Api
from tests.console_rows import board_of, case_row

pytestmark = pytest.mark.usefixtures("api_cases_end_after")
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
}


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, token: str) -> str:
    """Sign in through the console's form; the CSRF token of the signed-in forms."""
    form = await http.get("/console")
    assert 'id="token"' in form.text
    done = await http.post("/console/sign-in", data={"token": token, "csrf": csrf_of(form)})
    assert done.status_code == 303, done.text[:500]
    assert done.headers["location"] == "/console"
    page = await http.get("/console/dashboard")
    assert 'id="signed-in-as"' in page.text
    return csrf_of(page)


def specialist(api: Api, name: str = "dana") -> str:
    return api.staff("specialist", name, f"{name}@team.example")


def supervisor(api: Api, name: str = "lee") -> str:
    return api.staff("supervisor", name, f"{name}@team.example")


async def open_case(api: Api, placed: bool = True) -> str:
    seller, _ = api.seller()
    async with api.as_role("detector") as detector:
        answer = await detector.post("/v1/detections", json=api.detection(seller))
        assert answer.status_code == 202, answer.text
    if placed:
        await api.cases.wait_for_call(seller, 1)
    return seller


def queue_sellers(page: httpx.Response | str) -> list[str]:
    text = page if isinstance(page, str) else page.text
    return re.findall(r'<tr data-seller="([^"]+)"', text)


def row_html(page: httpx.Response, seller: str) -> str:
    found = re.search(rf'<tr data-seller="{re.escape(seller)}".*?</tr>', page.text, re.S)
    assert found, page.text[:1000]
    return found.group(0)


def cells(html: str) -> list[str]:
    raw = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", html, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip() for c in raw]


# ---- signing in ------------------------------------------------------------------------------


async def test_a_specialist_signs_in_with_the_form_and_a_console_cookie(api: Api) -> None:
    token = specialist(api)
    async with api.http() as http:
        form = await http.get("/console")
        assert form.status_code == 200 and 'id="token"' in form.text
        assert "aha_form=" in form.headers["set-cookie"]
        done = await http.post("/console/sign-in", data={"token": token, "csrf": csrf_of(form)})
        assert done.status_code == 303
        cookie = done.headers["set-cookie"]
        assert cookie.startswith("aha_session=")
        for attribute in ("HttpOnly", "Path=/console", "SameSite=strict"):
            assert attribute in cookie, cookie
        assert token not in done.headers["location"] and token not in cookie
        queue = await http.get("/console")
    assert queue.status_code == 200
    assert "dana (specialist)" in queue.text
    assert token not in queue.text


@pytest.mark.parametrize("role", ["detector", "telephony", "rating", "seller", "unknown"])
async def test_only_specialists_and_supervisors_sign_in(api: Api, role: str) -> None:
    if role == "seller":
        _, token = api.seller()
    elif role == "unknown":
        token = "a-token-nobody-was-given-0000"
    else:
        token = api.tokens[role]
    async with api.http() as http:
        form = await http.get("/console")
        refused = await http.post("/console/sign-in", data={"token": token, "csrf": csrf_of(form)})
        assert refused.status_code == 401
        assert "That token does not open the console." in refused.text
        assert "aha_session" not in refused.headers.get("set-cookie", "")
        assert 'id="token"' in (await http.get("/console")).text


async def test_a_supervisor_signs_in(api: Api) -> None:
    token = supervisor(api)
    async with api.http() as http:
        await sign_in(http, token)
        queue = await http.get("/console")
    assert "lee (supervisor)" in queue.text
    assert 'id="f-owner"' in queue.text, "supervisors filter by owner"


async def test_a_token_in_a_url_opens_nothing(api: Api) -> None:
    token = specialist(api)
    async with api.http() as http:
        page = await http.get("/console", params={"token": token})
        assert 'id="token"' in page.text and 'id="signed-in-as"' not in page.text
        form = await http.get("/console")
        refused = await http.post(
            "/console/sign-in", params={"token": token}, data={"csrf": csrf_of(form)}
        )
        assert refused.status_code == 401
        assert "aha_session" not in refused.headers.get("set-cookie", "")


async def test_sign_in_goes_back_to_the_console_page_asked_for_and_nowhere_else(
    api: Api,
) -> None:
    token = specialist(api)
    for asked, lands in [
        ("/console/dashboard", "/console/dashboard"),
        ("/console?status=engaged", "/console?status=engaged"),
        ("https://evil.example/console", "/console"),
        ("//evil.example", "/console"),
        ("/console.evil", "/console"),
        ("/console\\..\\x", "/console"),
        ("/account-health/x", "/console"),
    ]:
        async with api.http() as http:
            form = await http.get("/console")
            done = await http.post(
                "/console/sign-in", data={"token": token, "csrf": csrf_of(form), "next": asked}
            )
            assert done.status_code == 303
            assert done.headers["location"] == lands, asked
    async with api.http() as http:
        form = await http.get("/console/dashboard", params={"x": "1"})
        assert 'name="next" value="/console/dashboard?x=1"' in form.text


async def test_forged_csrf_is_refused_and_changes_nothing(api: Api) -> None:
    seller = await open_case(api)
    token = specialist(api)
    async with api.http() as http:
        await sign_in(http, token)
        for forged in ("", "é", "0" * 64, "\u202e" * 64):
            refused = await http.post(
                f"/console/cases/{seller}/calls/1/outcome",
                data={"csrf": forged, "outcome": "answered"},
            )
            assert refused.status_code == 403, (forged, refused.text[:300])
            assert "The form expired" in refused.text
        out = await http.post("/console/sign-out", data={"csrf": "0" * 64})
        assert out.status_code == 403
        assert 'id="signed-in-as"' in (await http.get("/console")).text, "still signed in"
    async with api.http() as stranger:
        refused = await stranger.post("/console/sign-in", data={"token": token, "csrf": "é"})
        assert refused.status_code == 403
    view = await api.cases.view(seller)
    assert view.call_attempts[0].outcome is None


async def test_a_post_without_a_session_is_401_and_changes_nothing(api: Api) -> None:
    seller = await open_case(api)
    async with api.http() as http:
        for path, data in [
            (f"/console/cases/{seller}/calls/1/outcome", {"outcome": "answered"}),
            (f"/console/cases/{seller}/issues/i1/resolve", {"note": "done"}),
            (f"/console/cases/{seller}/claim", {}),
            (f"/console/cases/{seller}/assign", {"specialist": "dana"}),
            ("/console/sign-out", {}),
        ]:
            refused = await http.post(path, data={"csrf": "0" * 64, **data})
            assert refused.status_code == 401, path
            assert 'id="token"' in refused.text
            assert refused.headers["content-type"].startswith("text/html")
    view = await api.cases.view(seller)
    assert view.call_attempts[0].outcome is None and view.assigned_to is None


async def test_a_sellers_session_does_not_open_the_console_nor_the_reverse(api: Api) -> None:
    seller, seller_token = api.seller()
    staff_token = specialist(api)
    async with api.http() as http:
        page = await http.get(f"/account-health/{seller}")
        done = await http.post(
            f"/account-health/{seller}/sign-in",
            data={"token": seller_token, "csrf": csrf_of(page)},
        )
        assert done.status_code == 303
        seller_cookie = http.cookies.get("aha_session")
    async with api.http() as http:
        http.cookies.set("aha_session", seller_cookie or "", path="/console")
        assert 'id="token"' in (await http.get("/console")).text
    async with api.http() as http:
        await sign_in(http, staff_token)
        staff_cookie = http.cookies.get("aha_session", path="/console")
    async with api.http() as http:
        http.cookies.set("aha_session", staff_cookie or "", path=f"/account-health/{seller}")
        page = await http.get(f"/account-health/{seller}")
        assert 'id="token"' in page.text and 'id="case-status"' not in page.text


async def test_sign_out_ends_the_session_and_its_copies(api: Api) -> None:
    token = specialist(api)
    async with api.http() as http:
        csrf = await sign_in(http, token)
        copied = http.cookies.get("aha_session", path="/console")
        out = await http.post("/console/sign-out", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/console"
    async with api.http() as replay:
        replay.cookies.set("aha_session", copied or "", path="/console")
        assert 'id="token"' in (await replay.get("/console")).text
        assert (await replay.get("/console/queue.json")).status_code == 401


async def test_a_revoked_token_ends_its_session(api: Api) -> None:
    token = specialist(api)
    async with api.http() as http:
        await sign_in(http, token)
        text = api.tokens_file.read_text(encoding="utf-8")
        api.tokens_file.write_text(text.replace(token, "revoked-" + "0" * 24), encoding="utf-8")
        assert 'id="token"' in (await http.get("/console")).text


# ---- the queue -------------------------------------------------------------------------------


async def test_the_queue_shows_the_boards_open_cases_soonest_deadline_first(api: Api) -> None:
    board = board_of(api)
    now = datetime.now(UTC)
    tokyo = now.astimezone(ZoneInfo("Asia/Tokyo"))
    closed_hours = ("20:00", "21:00") if tokyo.hour < 12 else ("02:00", "03:00")
    every_hour = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), ("00:00-24:00",))
    board.record(
        case_row(
            "later", timedelta(hours=40), now=now, calling_calendar=CallingCalendar(**every_hour)
        )
    )
    board.record(
        case_row(
            "soon",
            timedelta(hours=2, minutes=30),
            now=now,
            status="engaged",
            attempts=3,
            assigned_to="sam",
            sla_state="breached",
            timezone="Asia/Tokyo",
            calling_start=closed_hours[0],
            calling_end=closed_hours[1],
            next_call_at=now + timedelta(hours=1),
        )
    )
    callback_at = now + timedelta(hours=3)
    board.record(
        case_row(
            "middle",
            timedelta(hours=10),
            now=now,
            sla_state="warning",
            callback_at=callback_at,
            next_call_at=now + timedelta(hours=1),
        )
    )
    board.record(case_row("closed", timedelta(hours=1), now=now, closed_at=now, status="resolved"))
    token = specialist(api)
    async with api.http() as http:
        await sign_in(http, token)
        queue = await http.get("/console")
    assert queue.status_code == 200
    assert queue_sellers(queue) == ["soon", "middle", "later"]
    assert "3 open cases match; 3 shown." in queue.text
    seller, left, sla, status, owner, attempts, next_call, local, callable_now = cells(
        row_html(queue, "soon")
    )
    assert seller == "soon US"
    assert left in ("2 h 30 min", "2 h 29 min")
    assert sla == "Breached"
    assert status == "Engaged"
    assert owner == "sam"
    assert attempts == "3"
    assert next_call == f"{tokyo + timedelta(hours=1):%a %H:%M}"
    assert local in (f"{tokyo:%a %H:%M}", f"{tokyo + timedelta(minutes=1):%a %H:%M}")
    assert callable_now == f"No {closed_hours[0]} to {closed_hours[1]} every day"
    assert 'href="/console/cases/soon"' in row_html(queue, "soon")
    # The seller's callback comes before any proactive call: the queue names it.
    new_york = callback_at.astimezone(ZoneInfo("America/New_York"))
    assert cells(row_html(queue, "middle"))[6] == f"Callback {new_york:%a %H:%M} (seller's request)"
    later = cells(row_html(queue, "later"))
    assert (
        later[2] == "On track"
        and later[4] == "Unassigned"
        and later[8] == "Yes Mon-Sun 00:00-24:00"
    )


async def test_the_queue_filters(api: Api) -> None:
    board = board_of(api)
    now = datetime.now(UTC)
    board.record(case_row("a", timedelta(hours=3), now=now, assigned_to="dana"))
    board.record(case_row("b", timedelta(hours=5), now=now, status="engaged", marketplace="DE"))
    board.record(case_row("c", timedelta(hours=30), now=now, sla_state="breached"))
    board.record(case_row("d", timedelta(hours=50), now=now, assigned_to="sam", marketplace="DE"))
    token = specialist(api, "dana")
    async with api.http() as http:
        await sign_in(http, token)

        async def shown(**params: str) -> list[str]:
            page = await http.get("/console", params=params)
            assert page.status_code == 200, page.text[:500]
            return queue_sellers(page)

        assert await shown() == ["a", "b", "c", "d"]
        assert await shown(mine="1") == ["a"]
        assert await shown(unassigned="1") == ["b", "c"]
        assert await shown(status="engaged") == ["b"]
        assert await shown(marketplace="DE") == ["b", "d"]
        assert await shown(within="6") == ["a", "b"]
        assert await shown(breached="1") == ["c"]
        assert await shown(unassigned="1", marketplace="DE") == ["b"]
        page = await http.get("/console", params={"status": "engaged", "breached": "1"})
        assert 'value="engaged" selected' in page.text and 'id="f-breached" checked' in page.text
        assert 'id="queue-empty"' in page.text


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"status": "resolved"}, "Status: choose one of"),
        ({"marketplace": "U$"}, "Marketplace: a marketplace code"),
        ({"within": "soon"}, "At risk within: a number of hours"),
        ({"within": "0"}, "At risk within: a number of hours"),
        ({"within": "99999"}, "At risk within: a number of hours"),
        ({"owner": "sam"}, "Owner: only supervisors"),
        ({"mine": "1", "unassigned": "1"}, "cannot be unassigned and owned"),
        ({"page": "not-a-token"}, "page_token"),
    ],
)
async def test_a_bad_filter_is_refused_with_its_reason(
    api: Api, params: dict[str, str], reason: str
) -> None:
    token = specialist(api)
    async with api.http() as http:
        await sign_in(http, token)
        page = await http.get("/console", params=params)
        live = await http.get("/console/queue.json", params=params)
    assert page.status_code == 422, page.text[:300]
    assert reason in page.text
    assert 'id="page-error"' in page.text
    assert live.status_code == 422


async def test_a_supervisor_filters_by_owner(api: Api) -> None:
    board = board_of(api)
    board.record(case_row("a", timedelta(hours=3), assigned_to="dana"))
    board.record(case_row("b", timedelta(hours=4), assigned_to="sam"))
    specialist(api, "dana")
    specialist(api, "sam")
    token = supervisor(api)
    async with api.http() as http:
        await sign_in(http, token)
        queue = await http.get("/console", params={"owner": "sam"})
        assert queue_sellers(queue) == ["b"]
        assert '<option value="sam" selected>' in queue.text
        assert '<option value="dana" >' in queue.text
        both = await http.get("/console", params={"owner": "sam", "mine": "1"})
        assert both.status_code == 422
        odd = await http.get("/console", params={"owner": "<sam>"})
        assert odd.status_code == 422 and "Owner: a name" in odd.text


async def test_the_queue_pages_through_every_case(api: Api) -> None:
    board = board_of(api)
    now = datetime.now(UTC)
    for n in range(51):
        board.record(case_row(f"s{n:03d}", timedelta(hours=1, minutes=n), now=now))
    token = specialist(api)
    async with api.http() as http:
        await sign_in(http, token)
        first = await http.get("/console", params={"marketplace": "US"})
        assert queue_sellers(first) == [f"s{n:03d}" for n in range(50)]
        assert "51 open cases match; 50 shown." in first.text
        found = re.search(r'href="([^"]+)" id="next-page"', first.text)
        assert found
        link = found.group(1).replace("&amp;", "&")
        assert "marketplace=US" in link
        second = await http.get(link)
        assert queue_sellers(second) == ["s050"]
        assert 'id="next-page"' not in second.text and 'id="first-page"' in second.text


async def test_the_queue_refresh_answers_the_rows_with_a_version(api: Api) -> None:
    board = board_of(api)
    row = case_row("a", timedelta(hours=3))
    board.record(row)
    token = specialist(api)
    async with api.http() as http:
        await sign_in(http, token)
        page = await http.get("/console", params={"unassigned": "1"})
        assert 'data-live-url="/console/queue.json?unassigned=1"' in page.text

        async def live() -> dict[str, Any]:
            answer = await http.get("/console/queue.json", params={"unassigned": "1"})
            assert answer.status_code == 200
            assert answer.headers["cache-control"] == "no-store"
            body: dict[str, Any] = answer.json()
            return body

        first = await live()
        part = first["sections"]["queue-results"]
        assert queue_sellers(part["html"]) == ["a"]
        assert f'data-version="{part["version"]}"' in page.text, "the page starts at that version"
        assert (await live())["sections"]["queue-results"]["version"] == part["version"]
        board.record(row.model_copy(update={"version": 2, "assigned_to": "dana"}))
        changed = (await live())["sections"]["queue-results"]
        assert changed["version"] != part["version"]
        assert queue_sellers(changed["html"]) == []
    async with api.http() as stranger:
        assert (await stranger.get("/console/queue.json")).status_code == 401


# ---- the case screen -------------------------------------------------------------------------


async def test_the_case_screen_shows_the_script_and_reports_an_outcome(api: Api) -> None:
    seller = await open_case(api)
    token = specialist(api)
    async with api.http() as http:
        csrf = await sign_in(http, token)
        screen = await http.get(f"/console/cases/{seller}")
        assert screen.status_code == 200
        steps = api.cases.service.catalogue.guidance("ip_complaint")
        assert steps and all(step in screen.text for step in steps)
        assert "Call script" in screen.text
        outcomes = re.findall(r'name="outcome" value="([a-z_]+)"', screen.text)
        assert outcomes == ["answered", "no_answer", "busy", "voicemail", "invalid_number"]
        reported = await http.post(
            f"/console/cases/{seller}/calls/1/outcome", data={"csrf": csrf, "outcome": "no_answer"}
        )
        assert reported.status_code == 303
        assert reported.headers["location"] == f"/console/cases/{seller}?notice=reported"
        again = await http.post(
            f"/console/cases/{seller}/calls/1/outcome", data={"csrf": csrf, "outcome": "answered"}
        )
        assert again.status_code == 409
        assert 'id="page-error"' in again.text
        nonsense = await http.post(
            f"/console/cases/{seller}/calls/1/outcome", data={"csrf": csrf, "outcome": "maybe"}
        )
        assert nonsense.status_code == 422 and "outcome" in nonsense.text
        back = await http.get(reported.headers["location"])
        assert "The call&#39;s outcome is recorded." in back.text
        assert re.search(r'data-attempt="1" data-outcome="no_answer"', back.text)
        assert f'data-live-url="/console/cases/{seller}/live.json"' in back.text
        live = await http.get(f"/console/cases/{seller}/live.json")
        assert live.status_code == 200
        parts = live.json()["sections"]
        assert set(parts) == {f"case-{name}" for name in SECTIONS}
        for name, part in parts.items():
            assert f'id="{name}"' in back.text
            assert f'data-version="{part["version"]}"' in back.text, name
        assert 'data-outcome="no_answer"' in parts["case-calls"]["html"]
    view = await api.cases.view(seller)
    assert view.call_attempts[0].outcome == "no_answer"
    assert view.call_attempts[0].reported_by == "specialist:dana"


async def test_a_refused_resolution_comes_back_with_the_note_kept(api: Api) -> None:
    seller = await open_case(api)
    issue_id = (await api.cases.view(seller)).issues[0].id
    token = specialist(api)
    async with api.http() as http:
        csrf = await sign_in(http, token)
        refused = await http.post(
            f"/console/cases/{seller}/issues/{issue_id}/resolve",
            data={"csrf": csrf, "note": "Listings fixed <b>today</b>"},
        )
        assert refused.status_code == 409
        assert "the seller has not been reached yet" in refused.text
        assert "Listings fixed &lt;b&gt;today&lt;/b&gt;</textarea>" in refused.text
        assert f'id="resolve-{issue_id}" data-dirty="1"' in refused.text
        empty = await http.post(
            f"/console/cases/{seller}/issues/{issue_id}/resolve", data={"csrf": csrf, "note": " "}
        )
        assert empty.status_code == 422
        long = await http.post(
            f"/console/cases/{seller}/issues/{issue_id}/resolve",
            data={"csrf": csrf, "note": "x" * 4001},
        )
        assert long.status_code == 422 and "at most 4000" in long.text
    assert (await api.cases.view(seller)).issues[0].status == "open"


async def test_a_case_that_is_not_there_is_a_page_saying_so(api: Api) -> None:
    seller, _ = api.seller()
    token = specialist(api)
    async with api.http() as http:
        await sign_in(http, token)
        none = await http.get(f"/console/cases/{seller}")
        assert none.status_code == 404 and f"Seller {seller} has no case." in none.text
        for bad in ("x%3B%20Domain%3Devil", "." * 70):
            answer = await http.get(f"/console/cases/{bad}")
            assert answer.status_code == 404 and "set-cookie" not in answer.headers
        live = await http.get(f"/console/cases/{seller}/live.json")
        assert live.status_code == 404


async def test_a_specialist_may_not_reassign(api: Api) -> None:
    seller = await open_case(api, placed=False)
    token = specialist(api)
    async with api.http() as http:
        csrf = await sign_in(http, token)
        refused = await http.post(
            f"/console/cases/{seller}/assign", data={"csrf": csrf, "specialist": "dana"}
        )
        assert refused.status_code == 403
        assert "Only a supervisor can reassign a case." in refused.text


async def test_claim_and_release_go_through_the_case(api: Api) -> None:
    seller = await open_case(api, placed=False)
    dana, sam = specialist(api, "dana"), specialist(api, "sam")
    async with api.http() as http, api.http() as other:
        csrf = await sign_in(http, dana)
        claimed = await http.post(f"/console/cases/{seller}/claim", data={"csrf": csrf})
        assert claimed.status_code == 303
        owned = await api.cases.view(seller)
        assert (owned.assigned_to, owned.assigned_email) == ("dana", "dana@team.example")
        other_csrf = await sign_in(other, sam)
        taken = await other.post(f"/console/cases/{seller}/claim", data={"csrf": other_csrf})
        assert taken.status_code == 409
        assert "owned by dana" in taken.text
        not_theirs = await other.post(f"/console/cases/{seller}/release", data={"csrf": other_csrf})
        assert not_theirs.status_code == 409
        assert (await api.cases.view(seller)).assigned_to == "dana"
        released = await http.post(f"/console/cases/{seller}/release", data={"csrf": csrf})
        assert released.status_code == 303
    view = await api.cases.view(seller)
    assert view.assigned_to is None
    kinds = [e.kind for e in view.timeline]
    assert "case_claimed" in kinds and "case_released" in kinds


async def test_a_supervisor_reassigns_to_someone_on_the_staff_list(api: Api) -> None:
    seller = await open_case(api, placed=False)
    specialist(api, "sam")
    token = supervisor(api)
    async with api.http() as http:
        csrf = await sign_in(http, token)
        screen = await http.get(f"/console/cases/{seller}")
        select = re.search(r'<select id="assign-to".*?</select>', screen.text, re.S)
        assert select, screen.text[:500]
        assert re.findall(r'<option value="([^"]*)"', select.group(0)) == [
            "",
            "lee",
            "sam",
            "test-specialist",
            "test-supervisor",
        ]
        unknown = await http.post(
            f"/console/cases/{seller}/assign", data={"csrf": csrf, "specialist": "nobody"}
        )
        assert unknown.status_code == 422 and "not on the staff list" in unknown.text
        done = await http.post(
            f"/console/cases/{seller}/assign", data={"csrf": csrf, "specialist": "sam"}
        )
        assert done.status_code == 303
    view = await api.cases.view(seller)
    assert view.assigned_to == "sam"
    assert view.assigned_email == "sam@team.example"
    assigned = [e for e in view.timeline if e.kind == "case_assigned"]
    assert assigned and assigned[-1].who == "supervisor:lee"


# ---- the dashboard ---------------------------------------------------------------------------


def read_csv(answer: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(answer.text)))


async def test_the_dashboard_draws_the_boards_numbers_with_a_csv_each(api: Api) -> None:
    board = board_of(api)
    now = datetime.now(UTC)
    board.record(case_row("a", timedelta(hours=3), now=now))
    board.record(case_row("b", timedelta(hours=12), now=now, sla_first_attempt="breached"))
    board.record(case_row("c", timedelta(hours=40), now=now, status="engaged"))
    board.record(
        case_row(
            "d",
            timedelta(hours=-1),
            now=now - timedelta(days=2),
            status="deactivated",
            closed_at=now - timedelta(days=2),
            closure_reason="deadline_passed",
        )
    )
    token = specialist(api)
    async with api.http() as http:
        await sign_in(http, token)
        page = await http.get("/console/dashboard")
        assert page.status_code == 200
        assert page.text.count("<svg ") == 6
        assert '<title id="chart-open-by-status-title">Open cases by status</title>' in page.text
        assert 'id="at-risk-6h">1<' in page.text and 'id="at-risk-24h">2<' in page.text

        async def download(name: str) -> list[list[str]]:
            answer = await http.get(f"/console/dashboard/{name}.csv")
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "text/csv; charset=utf-8"
            disposition = answer.headers["content-disposition"]
            assert disposition.startswith(f'attachment; filename="aha-{name}-')
            return read_csv(answer)

        assert await download("open-by-status") == [
            ["status", "open_cases"],
            ["awaiting_contact", "2"],
            ["engaged", "1"],
            ["plan_under_review", "0"],
            ["call_required", "0"],
        ]
        assert await download("at-risk") == [
            ["deadline_within_hours", "open_cases"],
            ["6", "1"],
            ["24", "2"],
        ]
        assert await download("deactivations") == [
            ["closure_reason", "last_7_days", "last_30_days"],
            ["deadline_passed", "1", "1"],
        ]
        breaches = await download("sla-breaches")
        assert breaches[0] == ["target", "breached_cases"]
        assert ["first_attempt", "1"] in breaches
        contact = await download("contact-rate")
        assert contact[:2] == [["measure", "value"], ["closed", "1"]]
        times = await download("response-times")
        assert [r[0] for r in times] == [
            "measure",
            "first_attempt_p50",
            "first_attempt_p90",
            "reached_p50",
            "reached_p90",
        ]
        missing = await http.get("/console/dashboard/everything.csv")
        assert missing.status_code == 404
        live = await http.get("/console/dashboard/live.json")
        assert live.status_code == 200
        assert "<svg " in live.json()["sections"]["dashboard-figures"]["html"]
    async with api.http() as stranger:
        refused = await stranger.get("/console/dashboard/open-by-status.csv")
        assert refused.status_code == 401 and 'id="token"' in refused.text


async def test_every_console_page_sends_the_pages_security_headers(api: Api) -> None:
    seller = await open_case(api, placed=False)
    token = specialist(api)
    async with api.http() as http:
        before = await http.get("/console")
        await sign_in(http, token)
        answers = [
            before,
            await http.get("/console"),
            await http.get(f"/console/cases/{seller}"),
            await http.get("/console/dashboard"),
            await http.get("/console/dashboard/at-risk.csv"),
            await http.get("/console/dashboard/nothing.csv"),
        ]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.url, name)
        assert "<script>" not in answer.text and " style=" not in answer.text
