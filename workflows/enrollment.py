"""The enrolment sweep: pages through every seller (or one) and applies the programme's rule."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.enrollment import EnrollmentActivities, PagePlan, SweepPage
    from aha import search_attributes as sa
    from aha.domain.models import SweepCounts, SweepRequest, SweepResult


PAGES_AT_ONCE = 3


@workflow.defn(name="EnrollmentSweep")
class EnrollmentSweep:
    @workflow.run
    async def run(self, request: SweepRequest) -> SweepResult:
        as_of = request.as_of or workflow.now().date()
        self.result = SweepResult(as_of=as_of)
        if request.seller_id:
            await self._page(SweepPage(as_of=as_of, seller_id=request.seller_id))
        else:
            starts = await workflow.execute_activity_method(
                EnrollmentActivities.plan_pages,
                PagePlan(page_size=request.page_size),
                start_to_close_timeout=timedelta(minutes=2),
                summary="split the sellers into pages",
            )
            # Pages wait on the mail server more than on the CPU, so a few run at once.
            slots = asyncio.Semaphore(PAGES_AT_ONCE)

            async def evaluate(after: str) -> None:
                async with slots:
                    await self._page(SweepPage(as_of=as_of, after=after, limit=request.page_size))

            await asyncio.gather(*(evaluate(after) for after in starts))
        workflow.upsert_search_attributes(
            [
                sa.SELLERS_EVALUATED.value_set(self.result.evaluated),
                sa.SELLERS_ENROLLED.value_set(self.result.enrolled),
            ]
        )
        return self.result

    async def _page(self, page: SweepPage) -> None:
        done: SweepCounts = await workflow.execute_activity_method(
            EnrollmentActivities.evaluate_page,
            page,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            summary=f"evaluate sellers after {page.after!r}" if page.after else "evaluate sellers",
        )
        self.result.add(done)
        self.result.pages += 1
        workflow.set_current_details(_details(self.result))


def _details(result: SweepResult) -> str:
    return "\n".join(
        [
            f"- **As of:** {result.as_of.isoformat()}",
            f"- **Evaluated:** {result.evaluated} sellers in {result.pages} pages",
            f"- **Enrolled:** {result.enrolled}",
            f"- **Eligible, missing phone:** {result.eligible_missing_phone}",
            f"- **Not eligible:** {result.not_eligible}",
            f"- **State changes:** {result.changes}, emails sent: {result.emails}",
            f"- **Failed sellers:** {len(result.failures)}",
        ]
    )
