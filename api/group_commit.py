"""A group commit: work items of requests that finish close together written in one
transaction, in a worker thread.

The first request to finish starts a writer; those finishing while it writes wait for the
next batch. Each waits until its own items are written (or given up on by the write function,
which logs what it could not write), so a request's writes are done when its handling ends,
as when each request wrote its own; under load a burst shares one lock and one commit.
"""

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")

# At most this many items share one transaction (a burst of thousands is several).
BATCH_LIMIT = 500


class GroupCommit(Generic[T]):
    def __init__(self, write_batch: Callable[[list[T]], None], limit: int = BATCH_LIMIT) -> None:
        self._write_batch, self._limit = write_batch, limit
        self._waiting: list[tuple[list[T], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.transactions = 0  # how many batches were written (the group commit's effect)

    async def write(self, items: list[T]) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._waiting.append((items, done))
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            self._writer = asyncio.create_task(self._write_batches())
        await done

    async def _write_batches(self) -> None:
        while self._waiting:
            batch: list[tuple[list[T], asyncio.Future[None]]] = []
            size = 0
            while self._waiting and (not batch or size + len(self._waiting[0][0]) <= self._limit):
                items, done = self._waiting.pop(0)
                batch.append((items, done))
                size += len(items)
            self.transactions += 1
            try:
                await anyio.to_thread.run_sync(self._write_batch,
                                               [i for items, _ in batch for i in items])
            finally:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
