"""The enrolment sweep: pages through every seller (or one) and applies the programme's rule."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.enrollment import EnrollmentActivities, PageResult, SweepPage
    from aha import search_attributes as sa
    from aha.models import SweepRequest, SweepResult


@workflow.defn(name="EnrollmentSweep")
class EnrollmentSweep:
    @workflow.run
    async def run(self, request: SweepRequest) -> SweepResult:
        as_of = request.as_of or workflow.now().date()
        result = SweepResult(as_of=as_of)
        after = ""
        while True:
            page: PageResult = await workflow.execute_activity_method(
                EnrollmentActivities.evaluate_page,
                SweepPage(
                    as_of=as_of, after=after, limit=request.page_size, seller_id=request.seller_id
                ),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                summary=f"evaluate sellers after {after!r}" if after else "evaluate sellers",
            )
            result.pages += 1
            for field in (
                "evaluated", "enrolled", "eligible_missing_phone", "not_eligible", "changes",
                "emails",
            ):  # fmt: skip
                setattr(result, field, getattr(result, field) + getattr(page, field))
            result.failures += page.failures[:100]
            workflow.set_current_details(_details(result))
            if page.next_after is None:
                break
            after = page.next_after
        workflow.upsert_search_attributes(
            [
                sa.SELLERS_EVALUATED.value_set(result.evaluated),
                sa.SELLERS_ENROLLED.value_set(result.enrolled),
            ]
        )
        return result


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
