"""The /ws/generate/ consumer: validate requests (generate, trace, train, stop), enqueue
them, forward the worker's events.

Three sections, as in a Channels tutorial: websocket handlers, command helpers, and
channel-layer handlers. The model never runs here; this process only talks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from webapp.catalog.models import LanguageModel
from webapp.redis_client import async_client

from . import signals
from .identity import address, has_own_identity, student_identity
from .protocol import (
    DEFAULT_MAX_NEW_TOKENS,
    GENERATE_TASK,
    PROTOCOL_VERSION,
    TRACE_TASK,
    TRAIN_TASK,
    ClientError,
    GenerateRequest,
    StopRequest,
    TraceRequest,
    TrainRequest,
    error_message,
    parse_client_message,
    resolve_selection,
)
from .request_checks import check_experiment, check_trace

logger = logging.getLogger(__name__)
WATCH_INTERVAL_S = 1.0
# the messages that end a request of each kind
FINAL_TYPES = ("done", "trace_result", "train_done", "error")
TRAINING_RUNNING = "You already have a training run going; stop it or wait for it to finish."
RUNNING_ELSEWHERE = (
    "Another tab or window of yours is already running a generation or trace, and each "
    "student runs one at a time; try again when it has finished (or close that tab)."
)


class GenerationConsumer(AsyncJsonWebsocketConsumer):
    # -- websocket handlers ---------------------------------------------------------------
    async def connect(self) -> None:
        self.active_request: str | None = None
        # the key a stop sets: the request id, except for a training run, whose key is made
        # here, so that one student's Stop cannot reach another's run of the same id
        self.cancel_id: str | None = None
        self.active_kind = "generate"
        # whose requests these are (docs/operations.md, "Limits"): fixed at connect, when
        # Channels has loaded the user and the session
        self.identity = student_identity(self.scope)
        self.address = address(self.scope)
        # the claim this connection holds while its request runs: (kind, identity, token)
        self.claim: tuple[str, str, str] | None = None
        self.active_since = 0.0
        self.last_event_at = 0.0
        self.started = False
        self.watchdog: asyncio.Task | None = None
        self.redis = async_client()
        await self.accept()
        await self.send_json({"type": "hello", "version": PROTOCOL_VERSION})

    async def disconnect(self, code: int) -> None:
        if self.active_request:
            await self.cancel_active()
        await self.release_claim()
        if self.watchdog:
            self.watchdog.cancel()
        await self.redis.aclose()

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        # our own decoding, so that a bad frame is answered, not a traceback
        if bytes_data is not None:
            await self.send_error("binary_frame", "Send text frames holding JSON, not binary.")
            return
        limit = settings.GLASSBOX["MAX_CLIENT_MESSAGE_CHARS"]
        if text_data is not None and len(text_data) > limit:
            await self.send_error(
                "message_too_large", f"A message may hold at most {limit} characters."
            )
            return
        try:
            content = json.loads(text_data)
        except (TypeError, ValueError):
            await self.send_error("bad_json", "That message is not valid JSON.")
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs) -> None:
        try:
            message = parse_client_message(content)
            if isinstance(message, GenerateRequest):
                await self.start_generation(message)
            elif isinstance(message, TraceRequest):
                await self.start_trace(message)
            elif isinstance(message, TrainRequest):
                await self.start_training(message)
            elif isinstance(message, StopRequest):
                await self.stop_generation()
        except ClientError as exc:
            await self.send_error(exc.code, exc.message, exc.request_id)

    # -- command helpers ------------------------------------------------------------------
    async def start_generation(self, request: GenerateRequest) -> None:
        request_id = self.new_request_id(request)
        record = await self.find_model(request.model, request_id)
        with errors_carry(request_id):
            if request.max_new_tokens is None:
                request.max_new_tokens = min(DEFAULT_MAX_NEW_TOKENS, record.max_new_tokens)
            if request.max_new_tokens > record.max_new_tokens:
                raise ClientError(
                    "invalid_setting",
                    f"Max new tokens: this model allows at most {record.max_new_tokens}.",
                )
            if request.top_k > (record.vocab_size or 0):
                raise ClientError(
                    "invalid_setting", f"Top-k: this model has {record.vocab_size} tokens."
                )
            resolve_selection(request.attention, record.n_layer or 0, record.n_head or 0)
            check_experiment(request.experiment, record.n_layer or 0, record.n_head or 0)
        await self.enqueue_request(
            GENERATE_TASK, request, record, request_id, record.prompt_token_limit
        )

    async def start_trace(self, request: TraceRequest) -> None:
        request_id = self.new_request_id(request)
        record = await self.find_model(request.model, request_id)
        with errors_carry(request_id):
            check_trace(request, record.n_layer or 0, record.n_head or 0, record.vocab_size or 0)
        # a trace generates nothing, so it may fill the whole context
        await self.enqueue_request(
            TRACE_TASK, request, record, request_id, record.block_size or 1, kind="trace"
        )

    async def start_training(self, request: TrainRequest) -> None:
        """Lesson 13's mini training run: one per student (all their tabs), on the trainer."""
        request_id = request.request_id or uuid.uuid4().hex
        if self.active_request:
            if self.active_kind == "train":
                raise ClientError("training_running", TRAINING_RUNNING, request_id)
            raise ClientError(
                "busy", "A generation or trace is already running here; wait for it.", request_id
            )
        if await signals.live_trainers(self.redis) == 0:
            raise ClientError(
                "no_trainer",
                "No trainer is running, so nothing can train right now. "
                "Ask whoever runs Glassbox to start the trainer process.",
                request_id,
            )
        identity = self.identity
        if not await signals.claim_training(self.redis, identity, request_id):
            raise ClientError("training_running", TRAINING_RUNNING, request_id)
        payload = request.model_dump(mode="json")
        self.cancel_id = f"train-{uuid.uuid4().hex}"
        payload.update(request_id=request_id, identity=identity, cancel_id=self.cancel_id)
        self.claim = ("training", identity, request_id)
        self.active_request, self.active_kind = request_id, "train"
        self.active_since = self.last_event_at = time.monotonic()
        self.started = False
        try:
            await sync_to_async(enqueue)(TRAIN_TASK, payload, self.channel_name, queue="cpu")
        except Exception:
            self.finish()
            await self.release_claim()
            raise
        await self.send_json({"type": "queued", "request_id": request_id, "model": None})
        self.watchdog = asyncio.create_task(self.watch(request_id))

    async def release_claim(self) -> None:
        """Free the claim this connection holds: a training run's (the trainer frees it
        too when it ends) or a generation's or trace's running slot."""
        claim, self.claim = self.claim, None
        if claim is None:
            return
        try:
            await signals.release_claim_async(self.redis, *claim)
        except Exception:  # it expires on its own
            logger.warning("could not release the %s claim", claim[0], exc_info=True)

    def new_request_id(self, request: GenerateRequest | TraceRequest) -> str:
        """The request's id (made here if absent), once the checks every request shares
        have passed."""
        request_id = request.request_id or uuid.uuid4().hex
        if self.active_request:
            raise ClientError(
                "busy",
                "A generation or trace is already running here; stop it or wait for it.",
                request_id,
            )
        limit = settings.GLASSBOX["MAX_PROMPT_CHARS"]
        if len(request.prompt) > limit:
            raise ClientError(
                "prompt_too_long",
                f"The prompt is {len(request.prompt)} characters; the limit is {limit}.",
                request_id,
            )
        return request_id

    async def enqueue_request(
        self,
        task: str,
        request: GenerateRequest | TraceRequest,
        record: LanguageModel,
        request_id: str,
        max_prompt_tokens: int,
        kind: str = "generate",
    ) -> None:
        # The stop flag is keyed by an id made here, never by the client's request id:
        # every lesson page numbers its requests from lesson-1, so those repeat across
        # students, and one student's stop must not reach another's run.
        cancel_id = f"{kind}-{uuid.uuid4().hex}"
        await self.claim_running_slot(cancel_id, request_id)
        try:
            await self.check_limits_and_workers(kind, request_id)
        except BaseException:
            await self.release_claim()
            raise
        self.cancel_id = cancel_id
        payload = request.model_dump(mode="json")
        payload.update(
            request_id=request_id,
            cancel_id=self.cancel_id,
            model=record.slug,
            model_path=str(record.path),
            model_sha256=record.sha256,
            max_prompt_tokens=max_prompt_tokens,
        )
        self.active_request, self.active_kind = request_id, kind
        self.active_since = self.last_event_at = time.monotonic()
        self.started = False
        try:
            await sync_to_async(enqueue)(task, payload, self.channel_name)
        except Exception:
            self.finish()
            await self.release_claim()
            raise
        await self.send_json({"type": "queued", "request_id": request_id, "model": record.slug})
        self.watchdog = asyncio.create_task(self.watch(request_id))

    async def claim_running_slot(self, token: str, request_id: str) -> None:
        """One running generation or trace per student, across all their tabs, so that
        nobody takes several places in a worker's batch. A client with no session or
        login has only its address, which a whole class may share: it keeps to the one
        request per connection that `new_request_id` enforces."""
        if not has_own_identity(self.identity):
            return
        ttl = signals.running_claim_ttl_s()
        if not await signals.claim(self.redis, "running", self.identity, token, ttl):
            raise ClientError("busy", RUNNING_ELSEWHERE, request_id)
        self.claim = ("running", self.identity, token)

    async def check_limits_and_workers(self, kind: str, request_id: str) -> None:
        """The per-minute limits (the student's, then the address's), then a live worker."""
        refusal = await signals.allow_request(self.redis, kind, self.identity, self.address)
        if refusal is not None:
            raise ClientError("rate_limited", rate_sentence(kind, refusal), request_id)
        if await signals.live_workers(self.redis) == 0:
            raise ClientError(
                "no_worker",
                "No model worker is running, so nothing can generate right now. "
                "Ask whoever runs Glassbox to start one.",
                request_id,
            )

    async def find_model(self, slug: str | None, request_id: str) -> LanguageModel:
        @sync_to_async
        def lookup():
            if slug is None:
                return LanguageModel.objects.default()
            return LanguageModel.objects.filter(slug=slug).first()

        record = await lookup()
        if record is None and slug is None:
            raise ClientError("unknown_model", "No model is available right now.", request_id)
        if record is None:
            raise ClientError("unknown_model", f"There is no model called {slug!r}.", request_id)
        if not record.enabled or record.status != LanguageModel.Status.READY:
            raise ClientError(
                "model_disabled", f"The model {record.name!r} is not available now.", request_id
            )
        return record

    async def stop_generation(self) -> None:
        if not self.active_request:
            raise ClientError("not_running", "There is no generation to stop.")
        await signals.request_cancel_async(self.redis, self.cancel_id)

    async def cancel_active(self) -> None:
        try:
            await signals.request_cancel_async(self.redis, self.cancel_id)
        except Exception:
            logger.warning("could not set the cancel flag", exc_info=True)
        self.finish()

    def finish(self) -> None:
        self.active_request = None
        if self.watchdog and self.watchdog is not asyncio.current_task():
            self.watchdog.cancel()
        self.watchdog = None

    async def watch(self, request_id: str) -> None:
        """Report a generation that no worker will finish, instead of spinning forever."""
        limits = settings.GLASSBOX
        ttl = limits["WORKER_HEARTBEAT_TTL_S"]
        training = self.active_kind == "train"
        count_workers = signals.live_trainers if training else signals.live_workers
        while self.active_request == request_id:
            await asyncio.sleep(WATCH_INTERVAL_S)
            if self.active_request != request_id:
                return
            now = time.monotonic()
            silent_for = now - self.last_event_at
            if silent_for > ttl and await count_workers(self.redis) == 0:
                code, sentence = "worker_lost", "The model worker stopped; please try again."
            elif not self.started and now - self.active_since > limits["QUEUE_TIMEOUT_S"] + 2:
                code, sentence = "queue_timeout", "The server is too busy; please try again soon."
            elif self.started and silent_for > limits["GENERATION_TIME_LIMIT_S"]:
                code, sentence = "worker_lost", "The generation stalled; please try again."
            else:
                if training and not self.started and int(now - self.active_since) % 5 == 0:
                    # other students' runs are ahead: say so, which also keeps the page's
                    # idle timer from giving up on a run that is only waiting its turn
                    waited = round((now - self.active_since) * 1000)
                    await self.send_json(
                        {"type": "train_waiting", "request_id": request_id, "waited_ms": waited}
                    )
                continue
            await signals.request_cancel_async(self.redis, self.cancel_id)
            self.finish()
            await self.release_claim()
            await self.send_error(code, sentence, request_id)
            return

    async def send_error(self, code: str, message: str, request_id: str | None = None) -> None:
        await self.send_json(error_message(code, message, request_id))

    # -- channel-layer handlers -----------------------------------------------------------
    async def generation_batch(self, event: dict) -> None:
        for message in event["messages"]:
            if message.get("request_id") != self.active_request:
                continue  # a late message from a generation this client already left
            self.last_event_at = time.monotonic()
            # a `queued` from the worker is a place in the batch's line, not a start: the
            # queue timeout still applies while the request waits for a row
            self.started = self.started or message["type"] != "queued"
            await self.send_json(message)
            if message["type"] in FINAL_TYPES:
                self.finish()
                # at once, so that a student who starts again right away is not refused
                await self.release_claim()


def rate_sentence(kind: str, refusal: signals.RateRefusal) -> str:
    """Which per-minute limit refused the request, and when to try again."""
    what = f"{refusal.limit} {'traces' if kind == 'trace' else 'generations'}"
    wait = f"try again in {refusal.retry_after_s} second{'s' if refusal.retry_after_s > 1 else ''}"
    if refusal.scope == "address":
        return (
            f"Your network address has sent {what} this minute, the most Glassbox takes "
            f"from one address (everyone behind it together); {wait}."
        )
    return f"You have asked for {what} this minute, the most one student may; {wait}."


@contextlib.contextmanager
def errors_carry(request_id: str):
    """Give the ClientErrors raised inside the request's id."""
    try:
        yield
    except ClientError as exc:
        exc.request_id = exc.request_id or request_id
        raise


def enqueue(task: str, payload: dict, reply_channel: str, queue: str = "gpu") -> None:
    """Publish the task by name, so this process never imports torch."""
    from webapp.celery import app

    app.send_task(
        task,
        kwargs={"request": payload, "reply_channel": reply_channel},
        queue=queue,
        expires=settings.GLASSBOX["QUEUE_TIMEOUT_S"],
    )
