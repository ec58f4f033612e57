"""Cross-process signals kept in Redis: cancel flags, worker heartbeats, rate limits.

The consumer (Daphne) and the task (Celery worker) never share memory; these small keys
are how they talk besides the channel layer.
"""

from __future__ import annotations

import time

from django.conf import settings

from webapp.redis_client import KEY_PREFIX, sync_client

CANCEL_TTL_S = 600
WORKERS_KEY = KEY_PREFIX + "workers"  # sorted set: worker name -> last heartbeat (unix time)


def sync_redis():
    return sync_client()


def cancel_key(request_id: str) -> str:
    return f"{KEY_PREFIX}cancel:{request_id}"


def request_cancel(client, request_id: str) -> None:
    """Ask the task for `request_id` to stop at its next step (sync client)."""
    client.set(cancel_key(request_id), b"1", ex=CANCEL_TTL_S)


async def request_cancel_async(client, request_id: str) -> None:
    await client.set(cancel_key(request_id), b"1", ex=CANCEL_TTL_S)


def is_cancelled(client, request_id: str) -> bool:
    return bool(client.exists(cancel_key(request_id)))


def beat(client, worker_name: str, key: str = WORKERS_KEY) -> None:
    client.zadd(key, {worker_name: time.time()})


def forget_worker(client, worker_name: str, key: str = WORKERS_KEY) -> None:
    client.zrem(key, worker_name)


async def live_workers(client) -> int:
    """How many workers sent a heartbeat within the TTL."""
    ttl = settings.GLASSBOX["WORKER_HEARTBEAT_TTL_S"]
    return await client.zcount(WORKERS_KEY, time.time() - ttl, "+inf")


RATE_LIMITS = {"generate": "RATE_LIMIT_PER_MINUTE", "trace": "TRACE_RATE_LIMIT_PER_MINUTE"}


async def allow_request(client, who: str, kind: str = "generate") -> bool:
    """Fixed one-minute window rate limit per client identity, one window per kind.

    Traces have their own, larger allowance: a lesson's widget traces on every click,
    and one forward pass costs far less than a generation.
    """
    limit = settings.GLASSBOX[RATE_LIMITS[kind]]
    if limit <= 0:
        return True
    key = f"{KEY_PREFIX}rate:{kind}:{who}:{int(time.time() // 60)}"
    count = await client.incr(key)
    if count == 1:
        await client.expire(key, 90)
    return count <= limit


OUTCOME_TTL_S = 600


def record_outcome(client, request_id: str, outcome: dict) -> None:
    """How a generation ended, kept briefly for operators (and tests) to inspect."""
    import json

    client.set(f"{KEY_PREFIX}outcome:{request_id}", json.dumps(outcome), ex=OUTCOME_TTL_S)


def read_outcome(client, request_id: str) -> dict | None:
    import json

    raw = client.get(f"{KEY_PREFIX}outcome:{request_id}")
    return json.loads(raw) if raw else None


# -- lesson 13's training runs: a trainer heartbeat and one run per student ------------------

TRAINERS_KEY = KEY_PREFIX + "trainers"  # like WORKERS_KEY, for processes on the "cpu" queue
# delete the claim only if it is still this run's (a later run may hold the key by then)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


def training_key(identity: str) -> str:
    return f"{KEY_PREFIX}training:{identity}"


def training_claim_ttl_s() -> int:
    """How long a claim outlives a run that never released it (a crashed trainer)."""
    limits = settings.GLASSBOX
    return int(limits["TRAIN_TIME_LIMIT_S"] + limits["QUEUE_TIMEOUT_S"]) + 30


async def claim_training(client, identity: str, request_id: str) -> bool:
    """Mark a training run as this student's; False if one of theirs is still running."""
    return bool(
        await client.set(training_key(identity), request_id, nx=True, ex=training_claim_ttl_s())
    )


async def release_training_async(client, identity: str, request_id: str) -> None:
    await client.eval(_RELEASE, 1, training_key(identity), request_id)


def release_training(client, identity: str, request_id: str) -> None:
    """Free the student's claim once the run has ended (the worker side)."""
    client.eval(_RELEASE, 1, training_key(identity), request_id)


async def live_trainers(client) -> int:
    """How many trainer processes sent a heartbeat within the TTL."""
    ttl = settings.GLASSBOX["WORKER_HEARTBEAT_TTL_S"]
    return await client.zcount(TRAINERS_KEY, time.time() - ttl, "+inf")
