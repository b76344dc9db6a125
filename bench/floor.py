"""The floor: the smallest workflow that does what a case does on each user-facing path (start; an
Update with a validator, accepted or refused; a query), and its worker process.

Run as `python -m bench.floor --address HOST:PORT`: one process polls two task queues, one with the
service's own data converter (pydantic + AES-GCM encryption, core/temporal.py) and one with plain
pydantic payloads, so the encryption's share of a round trip is seen on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

FLOOR_QUEUE_ENCRYPTED = "bench-floor-encrypted"
FLOOR_QUEUE_PLAIN = "bench-floor-plain"


class Bump(BaseModel):
    request_id: str
    by: int  # negative is refused by the validator


class BumpResult(BaseModel):
    version: int


@workflow.defn(name="FloorWorkflow")
class FloorWorkflow:
    @workflow.init
    def __init__(self, start: int) -> None:
        self.version = start

    @workflow.run
    async def run(self, start: int) -> int:
        await workflow.wait_condition(lambda: self.version < 0)
        return self.version

    @workflow.update(name="bump")
    def bump(self, request: Bump) -> BumpResult:
        self.version += request.by
        return BumpResult(version=self.version)

    @bump.validator
    def validate_bump(self, request: Bump) -> None:
        if request.by < 0:
            raise ApplicationError("refused: the floor takes no negative bump",
                                   {"rule": "FLOOR", "message": "negative"},
                                   type="ProtocolRefusal", non_retryable=True)

    @workflow.query(name="version")
    def current(self) -> int:
        return self.version


async def _serve(address: str) -> None:
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Worker

    from core.settings import Settings
    from core.temporal import data_converter

    encrypted = await Client.connect(address, data_converter=data_converter(Settings()))
    plain = await Client.connect(address, data_converter=pydantic_data_converter)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(encrypted, task_queue=FLOOR_QUEUE_ENCRYPTED, workflows=[FloorWorkflow]), \
            Worker(plain, task_queue=FLOOR_QUEUE_PLAIN, workflows=[FloorWorkflow]):
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    asyncio.run(_serve(parser.parse_args().address))
