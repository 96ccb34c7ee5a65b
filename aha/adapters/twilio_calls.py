"""Calls through Twilio's REST API (`aha.ports.Dialer`), and what Twilio's status callbacks
mean in aha's words.

The dial activity holds the delivery ledger's claim on the attempt (`CallTask.key`) while
this creates the call, and marks it sent right after: a second worker, or a retry after the
claim was marked, never creates a second call. Twilio's Calls API takes no idempotency key,
so the one window left is an answer lost after Twilio created the call (a timeout, a 5xx):
such an error is not retried, and the attempt counts as a failed dial, rather than the
seller's phone ringing twice.

A number Twilio refuses outright (one of BAD_NUMBER_CODES on creating the call) is dialled
and wrong: the attempt counts as placed, and its outcome, invalid_number, follows through
the case's outcome update, as a provider's callback would. Any other refusal fails the dial.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import aiohttp
import structlog
from temporalio.exceptions import ApplicationError
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from aha.domain.calls import CallTask
from aha.domain.models import CallReport
from aha.domain.vocabulary import CallOutcome
from aha.ports import CallOutcomes
from aha.twilio_settings import TwilioAccount

log = structlog.get_logger(__name__)

# Well inside the dial activity's 20 s: a slow answer fails the attempt rather than the
# activity's timeout retrying a call Twilio may have created.
HTTP_TIMEOUT_SECONDS = 10.0

# Twilio error codes that say the number itself is wrong, on a failed call's callback:
# 21211 invalid 'To' number, 21214 'To' number cannot be reached, 21217 not a valid phone
# number, 13224 invalid dial number (TwiML <Dial>), 21407 not a supported number type.
# Any other failure (a carrier error, a Twilio fault) counts as no answer: the next attempt
# may reach the seller, and a number wrongly marked invalid would stop the calls.
BAD_NUMBER_CODES = frozenset({"21211", "21214", "21217", "13224", "21407"})

REPORTED_BY = "telephony:twilio"

# The pause before each try of a refused number's outcome, which must follow the placement.
REPORT_PAUSES = (0.2, 0.5, 1.0, 2.0, 4.0)

# What the seller hears on answering; the specialist connection is the call flow's job.
GREETING = (
    "<Response><Say>This is Account Health Assurance calling about your seller account. "
    "Please stay on the line for a specialist.</Say></Response>"
)


class TwilioDialer:
    def __init__(self, account: TwilioAccount, outcomes: CallOutcomes | None = None) -> None:
        self.account = account
        # Where a number Twilio refuses at once is reported invalid; None fails the dial.
        self.outcomes = outcomes
        self._reports: set[asyncio.Task[None]] = set()

    def status_callback(self, task: CallTask) -> str:
        """Where Twilio reports the call: the case, its run and the attempt in the query."""
        query = {"seller": task.seller_id, "attempt": str(task.attempt)}
        if task.run_id:
            query["run"] = task.run_id
        return f"{self.account.status_url}?{urlencode(query)}"

    async def dial(self, task: CallTask, phone: str) -> None:
        http = AsyncTwilioHttpClient(timeout=HTTP_TIMEOUT_SECONDS)
        client = Client(
            self.account.username,
            self.account.password,
            account_sid=self.account.account_sid,
            http_client=http,
        )
        client.api.base_url = self.account.api_base
        try:
            call = await client.api.v2010.accounts(self.account.account_sid).calls.create_async(
                to=phone,
                from_=self.account.from_number,
                twiml=GREETING,
                status_callback=self.status_callback(task),
                status_callback_method="POST",
                status_callback_event=["completed"],
                machine_detection="Enable",
            )
        except TwilioRestException as err:
            if str(err.code) in BAD_NUMBER_CODES and self.outcomes is not None:
                # Dialled, and the number is wrong: what a person dialling would find, so the
                # attempt is placed (never dialled again) and its outcome is invalid_number.
                log.info("Twilio refused the number", seller_id=task.seller_id,
                         workflow_id=task.case_id, attempt=task.attempt, code=err.code)  # fmt: skip
                self._report_later(task, CallOutcome.INVALID_NUMBER)
                return
            raise _refused(err) from err
        except aiohttp.ClientConnectorError as err:
            # Nothing reached Twilio: safe to try again.
            raise ApplicationError(f"Twilio unreachable: {err}", type="TwilioUnreachable") from err
        except (TimeoutError, aiohttp.ClientError) as err:
            raise ApplicationError(
                f"Twilio's answer was lost ({type(err).__name__}); not retried, as the call "
                "may exist",
                type="TwilioAnswerLost",
                non_retryable=True,
            ) from err
        finally:
            await http.close()
        log.info("call created at Twilio", seller_id=task.seller_id, workflow_id=task.case_id,
                 attempt=task.attempt, call_sid=call.sid)  # fmt: skip

    def _report_later(self, task: CallTask, outcome: CallOutcome) -> None:
        report = asyncio.create_task(self._report(task, outcome))
        self._reports.add(report)
        report.add_done_callback(self._reports.discard)

    async def _report(self, task: CallTask, outcome: CallOutcome) -> None:
        assert self.outcomes is not None
        report = CallReport(attempt=task.attempt, outcome=outcome, reported_by=REPORTED_BY)
        error = ""
        for pause in REPORT_PAUSES:
            await asyncio.sleep(pause)
            try:
                await self.outcomes.report(task, report)
                return
            except Exception as err:  # not placed yet, or the case closed meanwhile
                error = str(err)
        # The case's call_report_timeout still closes the attempt, as no_answer.
        log.warning("refused number's outcome not taken", seller_id=task.seller_id,
                    workflow_id=task.case_id, attempt=task.attempt, error=error)  # fmt: skip


def _refused(err: TwilioRestException) -> ApplicationError:
    what = f"Twilio refused the call ({err.status}, code {err.code}): {err.msg}"
    # A 429 created nothing and may pass; a 5xx may have created the call (see above).
    retryable = err.status == 429
    return ApplicationError(what, type="TwilioRefused", non_retryable=not retryable)


def outcome_for(status: str, answered_by: str, error_code: str) -> CallOutcome | None:
    """aha's outcome for a final CallStatus, or None for one that says nothing (canceled)."""
    if status == "completed":
        if answered_by.startswith("machine_"):
            return CallOutcome.VOICEMAIL
        if answered_by == "fax":
            return CallOutcome.INVALID_NUMBER  # no person will ever answer this number
        return CallOutcome.ANSWERED  # "human", "unknown" or no detection result at all
    if status == "busy":
        return CallOutcome.BUSY
    if status == "no-answer":
        return CallOutcome.NO_ANSWER
    if status == "failed":
        return (
            CallOutcome.INVALID_NUMBER if error_code in BAD_NUMBER_CODES else CallOutcome.NO_ANSWER
        )
    return None
