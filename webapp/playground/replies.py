"""How a worker talks back to a consumer: protocol messages over the channel layer.

One event loop lives for the whole life of each worker thread (the worker runs its tasks
on a pool of threads, and an event loop belongs to one thread), so the channel layer's
Redis connections are reused from one request to the next. Messages are coalesced: a batch
goes to the channel layer at most every COALESCE_S while messages come faster than
that, so a fast model cannot flood the consumer; urgent ones go at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

COALESCE_S = 0.03
FULL_PATIENCE_S = 2.0  # how long a full channel may stay full before the client is taken as gone
FULL_RETRY_S = 0.05
_thread = threading.local()


def run_on_worker_loop(work: Coroutine) -> Any:
    """Run a coroutine to its end on this worker thread's long-lived event loop."""
    loop = getattr(_thread, "loop", None)
    if loop is None or loop.is_closed():
        loop = _thread.loop = asyncio.new_event_loop()
    return loop.run_until_complete(work)


class BatchSender:
    """Collects protocol messages and sends them to one channel in batches."""

    def __init__(self, reply_channel: str):
        self.layer = get_channel_layer()
        self.reply_channel = reply_channel
        self.pending: list[dict[str, Any]] = []
        self.last_sent = 0.0
        self.client_gone = False

    async def add(self, message: dict[str, Any], urgent: bool = False) -> None:
        self.pending.append(message)
        if urgent or time.monotonic() - self.last_sent >= COALESCE_S:
            await self.flush()

    async def flush(self) -> None:
        if not self.pending or self.client_gone:
            return
        batch, self.pending = self.pending, []
        message = {"type": "generation.batch", "messages": batch}
        deadline = time.monotonic() + FULL_PATIENCE_S
        while True:
            try:
                await self.layer.send(self.reply_channel, message)
                break
            except ChannelFull:
                # Daphne is behind (a whole class streams at once) or the consumer is gone:
                # wait a little for it to drain before taking the client as gone
                if time.monotonic() > deadline:
                    self.client_gone = True
                    break
                await asyncio.sleep(FULL_RETRY_S)
        self.last_sent = time.monotonic()
