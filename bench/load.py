"""Driving benchmark items: a closed loop at a fixed concurrency, or an open loop at a rate."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter

Sample = dict[str, float]  # operation -> seconds, for one item
Item = Callable[[int], Awaitable[Sample]]


@dataclass
class Driven:
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    max_send_lag_s: float | None = None  # open loop: the sender's worst lag behind schedule
    lags: dict[int, float] = field(default_factory=dict)  # open loop: each item's, by index

    @property
    def done(self) -> int:
        return max((len(v) for v in self.samples.values()), default=0)

    def add(self, sample: Sample, offset: float = 0.0) -> None:
        for operation, seconds in sample.items():
            self.samples[operation].append(seconds + offset)


async def drive(
    indices: Sequence[int], concurrency: int, item: Item, timeout: float
) -> tuple[dict[str, list[float]], list[str], float]:
    """Run `item` for every index with at most `concurrency` in flight; samples, errors, wall."""
    driven = await closed_loop(indices, concurrency, item, timeout)
    return dict(driven.samples), driven.errors, driven.wall_s


async def closed_loop(
    indices: Sequence[int], concurrency: int, item: Item, timeout: float
) -> Driven:
    pending = iter(indices)
    driven = Driven()

    async def lane() -> None:
        for index in pending:  # shared: each lane takes the next index when it is free
            try:
                async with asyncio.timeout(timeout):
                    sample = await item(index)
            except Exception as err:
                driven.errors.append(f"#{index}: {type(err).__name__}: {err}")
                continue
            driven.add(sample)

    started = perf_counter()
    async with asyncio.TaskGroup() as lanes:
        for _ in range(max(1, min(concurrency, len(indices)))):
            lanes.create_task(lane())
    driven.wall_s = perf_counter() - started
    return driven


async def open_loop(indices: Sequence[int], rate: float, item: Item, timeout: float) -> Driven:
    """One item every 1/rate s whatever the answers; each latency counts from its schedule.

    An item measures from its own start; the time it waited behind its scheduled send (the
    sender's lag, the event loop's) is added to every one of its samples.
    """
    interval = 1.0 / rate
    start = perf_counter() + 0.05
    driven = Driven(max_send_lag_s=0.0)
    finished: list[float] = []

    async def one(index: int, due: float) -> None:
        lag = driven.lags[index] = perf_counter() - due
        try:
            async with asyncio.timeout(timeout):
                sample = await item(index)
        except Exception as err:
            driven.errors.append(f"#{index}: {type(err).__name__}: {err}")
            return
        finished.append(perf_counter())
        driven.add(sample, offset=lag)

    async with asyncio.TaskGroup() as items:
        for position, index in enumerate(indices):
            due = start + position * interval
            delay = due - perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            driven.max_send_lag_s = max(driven.max_send_lag_s or 0.0, perf_counter() - due)
            items.create_task(one(index, due))
    driven.wall_s = (max(finished) if finished else perf_counter()) - start
    return driven
