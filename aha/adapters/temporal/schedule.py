"""The daily enrolment sweep as a Temporal Schedule, created or updated idempotently."""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from aha.adapters.temporal.names import ENROLLMENT_SWEEP
from aha.domain.models import SweepRequest

SCHEDULE_ID = "aha-enrollment-daily"


def daily_sweep(task_queue: str, hour_utc: int = 6) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ENROLLMENT_SWEEP,
            SweepRequest(),
            id="aha-enrollment-sweep",
            task_queue=task_queue,
            static_summary="Daily enrolment sweep: every seller against the programme's rule",
        ),
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour_utc)])]),
        # A sweep still running from yesterday finishes; today's waits rather than overlapping.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE),
    )


async def apply_schedule(client: Client, task_queue: str) -> str:
    """Create the schedule, or bring an existing one up to date; returns what was done."""
    schedule = daily_sweep(task_queue)
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        return "created"
    except ScheduleAlreadyRunningError:

        async def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(SCHEDULE_ID).update(replace)
        return "updated"
