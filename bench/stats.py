"""Timing helpers: percentiles, sequential samples and closed-loop concurrency."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Sample:
    """Latencies in milliseconds of one operation, taken one at a time."""

    name: str
    ms: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.ms)

    def p(self, q: float) -> float:
        return percentile(self.ms, q)

    @property
    def p50(self) -> float:
        return self.p(50)

    @property
    def p95(self) -> float:
        return self.p(95)

    @property
    def p99(self) -> float:
        return self.p(99)


async def sample(name: str, op: Callable[[int], Awaitable[object]], n: int,
                 warmup: int = 0) -> Sample:
    """Run op(i) n times one after another (after `warmup` untimed runs); time each."""
    for i in range(warmup):
        await op(-1 - i)
    result = Sample(name)
    for i in range(n):
        start = time.perf_counter()
        await op(i)
        result.ms.append((time.perf_counter() - start) * 1000)
    return result


async def interleaved(ops: dict[str, Callable[[int], Awaitable[object]]], n: int,
                      warmup: int = 0, settle: float = 0.0,
                      settle_after: Collection[str] = ()) -> dict[str, Sample]:
    """Like sample() for several operations, taking them in turn so that a noisy neighbour on a
    shared machine weighs on each of them alike rather than on whichever ran at that moment.
    After each operation named in settle_after, wait `settle` seconds untimed (the work it
    leaves behind must not fall on the next measurement)."""
    async def run(name: str, op: Callable[[int], Awaitable[object]], i: int) -> float:
        start = time.perf_counter()
        await op(i)
        elapsed = (time.perf_counter() - start) * 1000
        if name in settle_after:
            await asyncio.sleep(settle)
        return elapsed

    for i in range(warmup):
        for name, op in ops.items():
            await run(name, op, -1 - i)
    samples = {name: Sample(name) for name in ops}
    for i in range(n):
        for name, op in ops.items():
            samples[name].ms.append(await run(name, op, i))
    return samples


@dataclass
class Throughput:
    name: str
    ops: int
    seconds: float
    errors: int
    latency: Sample

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


async def closed_loop(name: str, clients: int, seconds: float,
                      op: Callable[[int, int], Awaitable[bool]]) -> Throughput:
    """`clients` loops each calling op(client, i) back to back for `seconds`; op says if it
    succeeded. Counts the operations completed inside the window."""
    latency = Sample(name)
    counts = [0, 0]  # ok, errors
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds

    async def one(client: int) -> None:
        i = 0
        while loop.time() < stop_at:
            start = time.perf_counter()
            ok = await op(client, i)
            latency.ms.append((time.perf_counter() - start) * 1000)
            counts[0 if ok else 1] += 1
            i += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in range(clients)))
    elapsed = time.perf_counter() - started
    return Throughput(name, counts[0], elapsed, counts[1], latency)
