"""How a worker talks back to a consumer: protocol messages over the channel layer.

One event loop lives for the whole worker process, so the channel layer's Redis
connections are reused from one request to the next. Messages are coalesced: a batch
goes to the channel layer at most every COALESCE_S while messages come faster than
that, so a fast model cannot flood the consumer; urgent ones go at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

COALESCE_S = 0.03
_loop: asyncio.AbstractEventLoop | None = None


def run_on_worker_loop(work: Coroutine) -> Any:
    """Run a coroutine to its end on the worker's one long-lived event loop."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop.run_until_complete(work)


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
        try:
            await self.layer.send(
                self.reply_channel, {"type": "generation.batch", "messages": batch}
            )
        except ChannelFull:
            # the consumer is not draining its channel: the client has gone
            self.client_gone = True
        self.last_sent = time.monotonic()
