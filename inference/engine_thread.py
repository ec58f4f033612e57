"""One engine thread per process: many callers, one batch.

A BatchEngine (batching.py) must be driven from one thread. EngineThread is that
thread: it owns the engine (and so the model and the batch), steps it while there is
work, and sleeps on its inbox when there is none. Any other thread (a Celery task, a
test) calls `submit(request)`, which checks the request at once, on the caller's thread,
and returns a Ticket: the request's own queue of events, in order, ending with its
DoneEvent. `ticket.cancel()` (or `cancel(id)`) stops it at the next step.

    server = EngineThread(BatchEngine(lm.model, lm.tokenizer, max_batch=16))
    ticket = server.submit(BatchRequest(ids, max_new_tokens=64, seed=7))
    for event in ticket.events(timeout=30):  # QueuedEvent*, PromptEvent, StepEvent*, DoneEvent
        forward(event)

If a step fails (say the device runs out of memory), every request then in the engine
gets the exception from `events()`, the engine is emptied, and the thread goes on serving.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from .batching import BatchEngine, BatchRequest, EngineEvent
from .generate import DoneEvent

logger = logging.getLogger(__name__)


class EngineClosed(RuntimeError):
    """The engine thread was stopped; it takes no more requests."""


@dataclass
class Ticket:
    """A submitted request: its id and its stream of events."""

    request_id: str
    _outbox: queue.Queue
    _owner: EngineThread

    def events(self, timeout: float | None = None) -> Iterator[EngineEvent]:
        """Yield the request's events until its DoneEvent; `timeout`: seconds to wait for
        each one (TimeoutError after that). Re-raises a failure of the engine's step."""
        while True:
            try:
                item = self._outbox.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no event from the engine in {timeout} s") from None
            if isinstance(item, BaseException):
                raise item
            yield item
            if isinstance(item, DoneEvent):
                return

    def poll(self, timeout: float) -> EngineEvent | None:
        """The next event, or None if none came within `timeout` seconds (so that a caller
        can check for a stop between events). Re-raises a failure of the engine's step."""
        try:
            item = self._outbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def cancel(self) -> None:
        self._owner.cancel(self.request_id)


class EngineThread:
    """Owns a BatchEngine on a daemon thread; `submit`, `cancel` and `close` are thread-safe."""

    def __init__(self, engine: BatchEngine, name: str = "glassbox-batch-engine"):
        self.engine = engine
        self._inbox: queue.Queue = queue.Queue()
        self._outboxes: dict[str, queue.Queue] = {}  # touched by the engine thread only
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, request: BatchRequest) -> Ticket:
        """Queue a request; a bad one raises here, with the engine's sentence."""
        if self._closed.is_set():
            raise EngineClosed("the engine thread is closed")
        self.engine.validate(request)  # reads no engine state: safe on this thread
        outbox: queue.Queue = queue.Queue()
        self._inbox.put(("submit", request, outbox))
        return Ticket(request.request_id, outbox, self)

    def cancel(self, request_id: str) -> None:
        self._inbox.put(("cancel", request_id))

    def close(self, timeout: float | None = 10.0) -> None:
        """Cancel everything still running (each gets its DoneEvent) and stop the thread."""
        self._closed.set()
        self._inbox.put(("close",))
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _serve(self) -> None:
        closing = False
        while not closing or self.engine.has_work:
            # block when idle; otherwise take whatever arrived and step at once
            commands = [self._inbox.get()] if not self.engine.has_work else []
            while True:
                try:
                    commands.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            for command in commands:
                closing = self._handle(command) or closing
            if closing:
                for request_id in list(self._outboxes):
                    self.engine.cancel(request_id)
            if self.engine.has_work:
                self._step()

    def _handle(self, command: tuple) -> bool:
        """Apply one command from the inbox; True when it asks the thread to stop."""
        if command[0] == "close":
            return True
        if command[0] == "cancel":
            self.engine.cancel(command[1])
            return False
        _, request, outbox = command
        try:
            self.engine.submit(request)  # may refuse: the id is already running
        except Exception as exc:
            outbox.put(exc)
            return False
        self._outboxes[request.request_id] = outbox
        return False

    def _step(self) -> None:
        try:
            events = self.engine.step()
        except Exception as exc:  # the thread must outlive any one step
            logger.error("a batch step failed; its requests are dropped", exc_info=exc)
            self.engine.reset()
            # every request not yet done was in the engine, the one being prefilled too
            for outbox in self._outboxes.values():
                outbox.put(exc)
            self._outboxes.clear()
            return
        for request_id, event in events:
            outbox = self._outboxes.get(request_id)
            if outbox is None:
                continue
            outbox.put(event)
            if isinstance(event, DoneEvent):
                del self._outboxes[request_id]
