"""AHA_DIALER=twilio end to end: a real case dials through a stand-in for Twilio's REST API
(tests/twilio_standin.py: Twilio lies outside our world), and status callbacks signed by the
`twilio` package's own RequestValidator are POSTed to the real HTTP service, which moves the
case. Nothing leaves loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from aha.config import Settings
from aha.domain.models import CallAttempt
from aha.domain.policy import parse_policy
from api.app import create_app
from api.telephony import STATUS_PATH
from tests.conftest import ALWAYS_CALLABLE, Api, running_api, running_cases
from tests.twilio_standin import CreatedCall, TwilioStandIn
from worker import build_dialer, run_worker

SID = "AC" + "0123456789abcdef" * 2
KEY = "SK" + "fedcba9876543210" * 2
FROM = "+12125550100"
# The public URL Twilio is told, as a proxy in front of the API would serve it: never the
# loopback address the test's requests reach.
PUBLIC_URL = "https://aha.example/v1/telephony/twilio/status"


def twilio_settings(token: str, api_base: str = "https://api.twilio.com") -> dict[str, Any]:
    return {
        "dialer": "twilio",
        "twilio_account_sid": SID,
        "twilio_auth_token": token,
        "twilio_from": FROM,
        "twilio_status_url": PUBLIC_URL,
        "twilio_api_base": api_base,
    }


@dataclass
class Stack:
    api: Api
    twilio: TwilioStandIn
    token: str

    async def dialled(self, seller_id: str) -> CreatedCall:
        await self.api.cases.detect(seller_id)
        await self.api.cases.wait_for_call(seller_id, 1)
        (call,) = [
            c for c in self.twilio.calls if f"seller={seller_id}&" in c.one("StatusCallback")
        ]
        return call

    async def callback(
        self,
        call: CreatedCall,
        signed_for: str | None = None,
        signature: str | None = None,
        **params: str,
    ) -> httpx.Response:
        """What Twilio POSTs when the call ends, signed for the URL Twilio was given."""
        url = call.one("StatusCallback")
        form = {"CallSid": call.sid, "AccountSid": SID, "To": call.one("To"), **params}
        if signature is None:
            signature = RequestValidator(self.token).compute_signature(signed_for or url, form)
        headers = {"X-Twilio-Signature": signature} if signature else {}
        async with httpx.AsyncClient(base_url=self.api.base_url, timeout=30) as http:
            return await http.post(
                f"{STATUS_PATH}?{urlsplit(url).query}", data=form, headers=headers
            )

    async def attempt(self, seller_id: str) -> CallAttempt:
        return (await self.api.cases.view(seller_id)).call_attempts[0]


@pytest.fixture
async def stack(
    env: WorkflowEnvironment, tmp_path: Path, mail_outbox: tuple[Path, int]
) -> AsyncIterator[Stack]:
    token = uuid.uuid4().hex
    with TwilioStandIn(account_sid=SID, username=SID, password=token) as twilio:
        settings = twilio_settings(token, twilio.base_url)
        dialer = build_dialer(replace(Settings(), **settings), env.client)
        policy = parse_policy(ALWAYS_CALLABLE)
        async with (
            running_cases(env, tmp_path, mail_outbox, policy, dialer=dialer) as cases,
            running_api(cases, tmp_path, overrides=settings) as api,
        ):
            yield Stack(api, twilio, token)


async def test_the_dial_creates_one_twilio_call_reporting_to_the_public_url(stack: Stack) -> None:
    seller_id = stack.api.cases.new_seller(phone="+12125550123")
    call = await stack.dialled(seller_id)
    view = await stack.api.cases.view(seller_id)

    assert call.auth == (SID, stack.token)
    assert call.one("To") == "+12125550123" and call.one("From") == FROM
    assert call.one("MachineDetection") == "Enable"
    assert call.one("StatusCallbackEvent") == "completed"
    assert call.one("StatusCallbackMethod") == "POST"
    url = urlsplit(call.one("StatusCallback"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == PUBLIC_URL
    assert parse_qs(url.query) == {
        "seller": [seller_id], "attempt": ["1"], "run": [view.run_id]
    }  # fmt: skip
    assert "<Say>" in call.one("Twiml")
    # The ledger's claim on the attempt: the call is created once, however the case goes on.
    assert len([c for c in stack.twilio.calls if c.sid == call.sid]) == 1
    assert len(stack.twilio.calls) == 1


@pytest.mark.parametrize(
    ("params", "outcome"),
    [
        ({"CallStatus": "completed", "AnsweredBy": "human"}, "answered"),
        ({"CallStatus": "completed"}, "answered"),
        ({"CallStatus": "completed", "AnsweredBy": "machine_end_beep"}, "voicemail"),
        ({"CallStatus": "busy"}, "busy"),
        ({"CallStatus": "no-answer"}, "no_answer"),
        ({"CallStatus": "failed", "ErrorCode": "21211"}, "invalid_number"),
        ({"CallStatus": "failed", "ErrorCode": "30008"}, "no_answer"),
    ],
)
async def test_a_signed_callback_reports_the_outcome(
    stack: Stack, params: dict[str, str], outcome: str
) -> None:
    seller_id = stack.api.cases.new_seller()
    call = await stack.dialled(seller_id)

    answer = await stack.callback(call, **params)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"result": "recorded", "outcome": outcome, "detail": ""}
    attempt = await stack.attempt(seller_id)
    assert attempt.outcome == outcome and attempt.reported_by == "telephony:twilio"


async def test_a_repeated_callback_changes_nothing(stack: Stack) -> None:
    seller_id = stack.api.cases.new_seller()
    call = await stack.dialled(seller_id)
    first = await stack.callback(call, CallStatus="completed", AnsweredBy="human")
    assert first.status_code == 200 and first.json()["result"] == "recorded"
    taken = await stack.attempt(seller_id)

    again = await stack.callback(call, CallStatus="completed", AnsweredBy="human")
    other = await stack.callback(call, CallStatus="busy")

    for answer in (again, other):
        assert answer.status_code == 200
        assert answer.json()["result"] == "already_reported"
    assert await stack.attempt(seller_id) == taken


async def test_forged_and_misdirected_signatures_are_refused(stack: Stack) -> None:
    seller_id = stack.api.cases.new_seller()
    call = await stack.dialled(seller_id)
    before = await stack.attempt(seller_id)
    requested = f"{stack.api.base_url}{STATUS_PATH}?{urlsplit(call.one('StatusCallback')).query}"
    forged = RequestValidator(uuid.uuid4().hex).compute_signature(
        call.one("StatusCallback"), {"CallStatus": "completed"}
    )

    refused = [
        await stack.callback(call, signature=forged, CallStatus="completed"),
        # Signed for the URL the request reached, as if rebuilt from its Host header.
        await stack.callback(call, signed_for=requested, CallStatus="completed"),
        # Signed for another attempt's URL.
        await stack.callback(
            call,
            signed_for=call.one("StatusCallback").replace("attempt=1", "attempt=2"),
            CallStatus="completed",
        ),
        await stack.callback(call, signature="", CallStatus="completed"),
    ]

    for answer in refused:
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"] == "bad_signature"
    assert await stack.attempt(seller_id) == before
    assert before.outcome is None
    # The honest callback is still taken: nothing above touched the attempt.
    good = await stack.callback(call, CallStatus="busy")
    assert good.json()["result"] == "recorded"


async def test_a_tampered_body_is_refused(stack: Stack) -> None:
    seller_id = stack.api.cases.new_seller()
    call = await stack.dialled(seller_id)
    url = call.one("StatusCallback")
    signed = RequestValidator(stack.token).compute_signature(
        url, {"CallSid": call.sid, "AccountSid": SID, "To": call.one("To"), "CallStatus": "busy"}
    )

    answer = await stack.callback(call, signature=signed, CallStatus="completed")

    assert answer.status_code == 403
    assert (await stack.attempt(seller_id)).outcome is None


async def test_a_canceled_call_is_ignored(stack: Stack) -> None:
    seller_id = stack.api.cases.new_seller()
    call = await stack.dialled(seller_id)

    answer = await stack.callback(call, CallStatus="canceled")

    assert answer.status_code == 200 and answer.json()["result"] == "ignored"
    assert (await stack.attempt(seller_id)).outcome is None


async def test_a_number_twilio_refuses_at_once_is_invalid(stack: Stack) -> None:
    stack.twilio.refusals.append((400, 21211))
    seller_id = stack.api.cases.new_seller()
    await stack.api.cases.detect(seller_id)

    view = await stack.api.cases.wait_for(
        seller_id, lambda v: bool(v.call_attempts) and v.call_attempts[0].outcome is not None
    )

    attempt = view.call_attempts[0]
    assert attempt.outcome == "invalid_number" and attempt.reported_by == "telephony:twilio"
    assert attempt.placed_at is not None
    assert stack.twilio.calls == [] and stack.twilio.refusals == []  # asked once


async def test_any_other_refusal_fails_the_dial_once(stack: Stack) -> None:
    stack.twilio.refusals.append((400, 21210))  # the From number is not the account's
    seller_id = stack.api.cases.new_seller()
    await stack.api.cases.detect(seller_id)

    view = await stack.api.cases.wait_for(
        seller_id, lambda v: bool(v.call_attempts) and v.call_attempts[0].outcome is not None
    )

    assert view.call_attempts[0].outcome == "no_answer"
    assert view.call_attempts[0].reported_by == "system (dialer failed)"
    assert any("21210" in entry.detail for entry in view.timeline)
    assert stack.twilio.calls == [] and stack.twilio.refusals == []  # asked once, not retried


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"twilio_account_sid": "AC123"}, "AHA_TWILIO_ACCOUNT_SID"),
        ({"twilio_auth_token": ""}, "AHA_TWILIO_AUTH_TOKEN"),
        ({"twilio_auth_token": "not-a-token"}, "AHA_TWILIO_AUTH_TOKEN"),
        ({"twilio_api_key": KEY}, "AHA_TWILIO_API_SECRET"),
        ({"twilio_api_key": "SK1", "twilio_api_secret": "s"}, "AHA_TWILIO_API_KEY"),
        ({"twilio_from": "2125550100"}, "AHA_TWILIO_FROM"),
        ({"twilio_status_url": ""}, "AHA_TWILIO_STATUS_URL"),
        ({"twilio_status_url": "ftp://aha.example/status"}, "AHA_TWILIO_STATUS_URL"),
        ({"twilio_status_url": PUBLIC_URL + "?x=1"}, "AHA_TWILIO_STATUS_URL"),
        ({"twilio_api_base": "https://api.twilio.com/2010-04-01"}, "AHA_TWILIO_API_BASE"),
    ],
)
async def test_a_bad_setting_stops_the_worker_naming_it(
    tmp_path: Path, change: dict[str, str], named: str
) -> None:
    settings = replace(
        Settings(), db_path=str(tmp_path / "aha.db"), **twilio_settings(uuid.uuid4().hex)
    )
    with pytest.raises(ValueError, match=named) as raised:
        await run_worker(replace(settings, **change))
    assert settings.twilio_auth_token not in str(raised.value)


def test_the_api_refuses_to_start_with_a_bad_callback_setting(tmp_path: Path) -> None:
    settings = replace(Settings(), db_path=str(tmp_path / "aha.db"))
    with pytest.raises(ValueError, match="AHA_TWILIO_AUTH_TOKEN"):
        create_app(replace(settings, twilio_status_url=PUBLIC_URL))
    with pytest.raises(ValueError, match="AHA_TWILIO_STATUS_URL"):
        create_app(replace(settings, twilio_auth_token=uuid.uuid4().hex))


async def test_an_api_key_signs_the_rest_calls(
    env: WorkflowEnvironment, tmp_path: Path, mail_outbox: tuple[Path, int]
) -> None:
    with TwilioStandIn(account_sid=SID, username=KEY, password="key-secret") as twilio:
        settings = twilio_settings("", twilio.base_url) | {
            "twilio_api_key": KEY,
            "twilio_api_secret": "key-secret",
        }
        dialer = build_dialer(replace(Settings(), **settings), env.client)
        policy = parse_policy(ALWAYS_CALLABLE)
        async with running_cases(env, tmp_path, mail_outbox, policy, dialer=dialer) as cases:
            seller_id = cases.new_seller()
            await cases.detect(seller_id)
            await cases.wait_for_call(seller_id, 1)
    assert [c.auth for c in twilio.calls] == [(KEY, "key-secret")]


async def test_a_signed_callback_for_no_such_attempt_or_case_is_ignored(stack: Stack) -> None:
    seller_id = stack.api.cases.new_seller()
    call = await stack.dialled(seller_id)
    url = call.one("StatusCallback")
    no_attempt = replace(
        call, form={**call.form, "StatusCallback": [url.replace("attempt=1", "attempt=7")]}
    )
    no_case = replace(
        call, form={**call.form, "StatusCallback": [url.replace(seller_id, "nobody")]}
    )

    answers = [
        await stack.callback(no_attempt, CallStatus="busy"),
        await stack.callback(no_case, CallStatus="busy"),
    ]

    # A 200, so that Twilio does not retry what can never be taken; the body says why.
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"] == "ignored" and answer.json()["detail"]
    assert (await stack.attempt(seller_id)).outcome is None


async def test_a_bearer_token_is_no_signature(stack: Stack) -> None:
    seller_id = stack.api.cases.new_seller()
    call = await stack.dialled(seller_id)
    query = urlsplit(call.one("StatusCallback")).query
    for role in ("telephony", "supervisor"):
        async with stack.api.as_role(role) as http:
            answer = await http.post(f"{STATUS_PATH}?{query}", data={"CallStatus": "completed"})
        assert answer.status_code == 403 and answer.json()["error"] == "bad_signature"
    assert (await stack.attempt(seller_id)).outcome is None
