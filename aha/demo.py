"""Demo sellers and a stream of detections, so `make run` shows cases living their lives.

Sellers live in several time zones, so some are inside calling hours and some wait for
morning. Demo actors play sellers and specialists: some press contact me now, some submit
plans that a specialist accepts or questions; one issue is reported late enough to reach
its deadline within minutes. Rating histories make most sellers enrolled, one eligible but
missing a phone, and one too new to qualify: detections for the last two show the standard
process (deactivation at once), and now and then a fraud report shows the immediate rule.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client

from aha.adapters.stores import open_programme_store
from aha.adapters.temporal.gateway import TemporalCases
from aha.catalogue_file import load_catalogue
from aha.config import Settings
from aha.domain.appeal_models import AppealReview
from aha.domain.catalogue import Catalogue
from aha.domain.models import DetectionEvent, PlanSubmission, Resolution, Review, SweepRequest
from aha.domain.policy import Policy
from aha.domain.vocabulary import AccountStatus
from aha.policy_file import load_policy
from aha.ports import ProgrammeStore
from aha.service import CaseService

log = structlog.get_logger(__name__)

DEMO_SELLERS = [
    ("demo-maple-goods", "Maple Goods", "+16475550142", "America/Toronto", "CA"),
    ("demo-pacific-outfitters", "Pacific Outfitters", "+14155550199", "America/Los_Angeles", "US"),
    ("demo-lakeside-books", "Lakeside Books", "+13125550100", "America/Chicago", "US"),
    ("demo-harbour-kitchen", "Harbour Kitchen", "+19025550188", "America/Halifax", "CA"),
    ("demo-capital-toys", "Capital Toys", "+12025550173", "America/New_York", "US"),
    ("demo-coastal-crafts", "Coastal Crafts", "+16045550111", "America/Vancouver", "CA"),
]
# Not enrolled: one qualifies but never gave a phone, one has only six weeks of history.
UNPROTECTED_SELLERS = [
    ("demo-no-phone-outlet", "No-Phone Outlet", None, "America/Denver", "US", 200),
    ("demo-brand-new-shop", "Brand New Shop", "+13055550123", "America/New_York", "US", 42),
]
DEMO_SELLER_IDS = [s[0] for s in DEMO_SELLERS] + [s[0] for s in UNPROTECTED_SELLERS]
DEMO_SPECIALIST = "demo-specialist"
DEMO_SPECIALIST_EMAIL = "demo-specialist@aha.example"
SCRIPTS = [
    "contact_me_now", "plan_accepted", "plan_questioned", "wait_for_calls", "late_report", "fraud",
]  # fmt: skip


def seed_sellers(store: ProgrammeStore) -> list[str]:
    """Demo sellers with contact data and daily AHR readings up to today."""
    today = datetime.now(UTC).date()
    sellers = [(*seller, 200) for seller in DEMO_SELLERS] + UNPROTECTED_SELLERS
    for seller_id, name, phone, timezone, marketplace, history_days in sellers:
        store.upsert(
            seller_id,
            email=f"{seller_id}@sellers.example",
            phone=phone,
            timezone=timezone,
            marketplace=marketplace,
            name=name,
        )
        store.set_account_status(seller_id, AccountStatus.ACTIVE)
        for back in range(history_days):
            store.record_reading(seller_id, today - timedelta(days=back), 300 + back % 40)
    return [seller[0] for seller in sellers]


async def _act(service: CaseService, seller_id: str, script: str, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(5, 15))
    if script == "contact_me_now":
        await service.contact_me_now(seller_id)
        return
    if script not in ("plan_accepted", "plan_questioned"):
        return
    # The demo specialist takes the case, so the console shows an owner and "mine" has rows.
    await service.claim(
        seller_id, DEMO_SPECIALIST, by=f"specialist:{DEMO_SPECIALIST}", email=DEMO_SPECIALIST_EMAIL
    )
    await service.submit_plan(
        seller_id,
        PlanSubmission(
            root_cause="A supplier shipped items that did not match our listings.",
            corrective_actions=["Removed the listings concerned", "Audited current stock"],
            preventive_measures=["Buy only from authorised distributors"],
        ),
    )
    await asyncio.sleep(rng.uniform(10, 20))
    if script == "plan_accepted":
        await service.review_plan(seller_id, Review(decision="accept", reviewer="demo-specialist"))
        return
    await service.review_plan(
        seller_id,
        Review(
            decision="request_info",
            questions=["Which supplier shipped the items, and since when?"],
            reviewer="demo-specialist",
        ),
    )
    await asyncio.sleep(rng.uniform(20, 40))
    view = await service.status(seller_id)
    if view.status == "plan_under_review":
        await service.review_plan(seller_id, Review(decision="accept", reviewer="demo-specialist"))
    elif view.reached and view.open_issues():
        for issue in view.open_issues():
            await service.resolve(
                seller_id,
                Resolution(
                    issue_id=issue.id, note="explained on the phone", resolved_by="demo-specialist"
                ),
            )


def routine_issue_types(catalogue: Catalogue, policy: Policy) -> list[str]:
    """The catalogue's types that get the protected process (not deactivated at once)."""
    return [t for t in catalogue.names if t not in policy.immediate_deactivation_issue_types]


async def run_demo(client: Client, settings: Settings, interval: float = 20.0) -> None:
    store = open_programme_store(settings)
    catalogue = load_catalogue(settings.issue_catalog)
    policy = load_policy(settings.policy_file)
    routine = routine_issue_types(catalogue, policy)
    cases = TemporalCases(client)
    service = CaseService(cases, store, settings.task_queue, catalogue)
    sellers = seed_sellers(store)
    sweep = await cases.run_sweep(
        SweepRequest(),
        f"aha-enrollment-demo-{datetime.now(UTC):%Y%m%dT%H%M%S}",
        settings.task_queue,
    )
    log.info("demo enrolment sweep", enrolled=sweep.enrolled, evaluated=sweep.evaluated)
    rng = random.Random()
    actors: set[asyncio.Task[None]] = set()
    log.info("demo sellers seeded", sellers=len(sellers))
    round_number = 0
    while True:
        for seller_id in sellers:
            round_number += 1
            script = SCRIPTS[round_number % len(SCRIPTS)]
            contact = store.get(seller_id)
            if contact is not None and contact.account_status == "deactivated":
                # The seller appeals and wins, so its account can go round again.
                await grant_appeal(service, store, seller_id)
            detected_at = datetime.now(UTC)
            if script == "late_report":
                # Reported 2 min before its deadline: this case reaches it in minutes.
                detected_at -= policy.deadline - timedelta(minutes=2)
            event = DetectionEvent(
                event_id=f"demo-{round_number}-{seller_id}",
                seller_id=seller_id,
                marketplace=store.get(seller_id).marketplace,  # type: ignore[union-attr]
                issue_type="fraud" if script == "fraud" else rng.choice(routine),
                severity=rng.choice(["high", "medium", "low"]),
                description="Demo detection",
                detected_at=detected_at,
            )
            try:
                receipt = await service.detect(event)
                log.info(
                    "demo detection", seller_id=seller_id, script=script, created=receipt.created
                )
                if receipt.created:
                    actor = asyncio.create_task(_quietly(_act(service, seller_id, script, rng)))
                    actors.add(actor)
                    actor.add_done_callback(actors.discard)
            except Exception as err:  # the demo must outlive any one refused or failed event
                log.info("demo detection refused", seller_id=seller_id, reason=str(err))
            await asyncio.sleep(interval)


DEMO_APPEAL = PlanSubmission(
    root_cause="A new employee listed products without checking the policy",
    corrective_actions=["Removed the listings", "Trained the team on the policy"],
    preventive_measures=["A second person checks every new listing"],
)


async def grant_appeal(service: CaseService, store: ProgrammeStore, seller_id: str) -> None:
    """A real appeal, accepted by a demo specialist: the appeal workflow reactivates the
    account. Should the appeal be refused (its window long gone), the demo flips it itself."""
    try:
        await service.appeal(seller_id, DEMO_APPEAL)
        await service.review_appeal(
            seller_id, AppealReview(decision="accept", reviewer="specialist:demo")
        )
        for _ in range(100):
            contact = store.get(seller_id)
            if contact is not None and contact.account_status == AccountStatus.ACTIVE:
                log.info("demo appeal granted", seller_id=seller_id)
                return
            await asyncio.sleep(0.1)
        raise TimeoutError("the account was not reactivated within 10 s")
    except Exception as err:  # the demo must go on whatever the appeal met
        log.info("demo appeal refused; reactivating directly", seller_id=seller_id, reason=str(err))
        store.set_account_status(seller_id, AccountStatus.ACTIVE)


async def _quietly(action: asyncio.Future[None] | object) -> None:
    try:
        await action  # type: ignore[misc]
    except Exception as err:  # one actor's failure must not stop the stack
        log.info("demo action refused", reason=str(err))
