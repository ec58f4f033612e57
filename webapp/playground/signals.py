"""Cross-process signals kept in Redis: cancel flags, worker heartbeats, rate limits, and
the claims that keep each student to one run at a time.

The consumer (Daphne) and the task (Celery worker) never share memory; these small keys
are how they talk besides the channel layer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

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


# the settings of each kind's two per-minute limits: (per student, per address)
RATE_LIMITS = {
    "generate": ("RATE_LIMIT_PER_MINUTE", "ADDRESS_RATE_LIMIT_PER_MINUTE"),
    "trace": ("TRACE_RATE_LIMIT_PER_MINUTE", "ADDRESS_TRACE_RATE_LIMIT_PER_MINUTE"),
}
# Check every counter first and count only if all allow, in one step: a refused request
# spends nothing, so one student hammering at their own limit never eats the address's
# allowance that the rest of the class shares. KEYS: counters; ARGV: their limits
# (0 = off), then the expiry. Returns the 1-based index of the counter that refused, or 0.
_CHECK_AND_COUNT = """
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[i])
  if limit > 0 and tonumber(redis.call('get', key) or '0') >= limit then return i end
end
for i, key in ipairs(KEYS) do
  if tonumber(ARGV[i]) > 0 then
    redis.call('incr', key)
    redis.call('expire', key, ARGV[#KEYS + 1])
  end
end
return 0
"""


def rate_clock() -> float:
    """The time the rate-limit windows are cut from (tests hold it still)."""
    return time.time()


@dataclass(frozen=True)
class RateRefusal:
    """Which limit refused a request: `"student"` or `"address"`, its size, and the
    seconds until its one-minute window ends."""

    scope: str
    limit: int
    retry_after_s: int


async def allow_request(client, kind: str, identity: str, address: str) -> RateRefusal | None:
    """Fixed one-minute windows, one pair per kind: `identity` (the student) against its
    own limit and `address` against the loose outer bound. None when the request may go.

    Traces have their own, larger allowances: a lesson's widget traces on every pause in
    typing, and one forward pass costs far less than a generation.
    """
    limits = [settings.GLASSBOX[name] for name in RATE_LIMITS[kind]]
    if all(limit <= 0 for limit in limits):
        return None
    now = rate_clock()
    window = int(now // 60)
    keys = [
        f"{KEY_PREFIX}rate:{kind}:{identity}:{window}",
        f"{KEY_PREFIX}address-rate:{kind}:{address}:{window}",
    ]
    refused = await client.eval(_CHECK_AND_COUNT, len(keys), *keys, *limits, 90)
    if not refused:
        return None
    retry_after = max(1, math.ceil(60 - now % 60))
    return RateRefusal(("student", "address")[refused - 1], limits[refused - 1], retry_after)


OUTCOME_TTL_S = 600


def record_outcome(client, request_id: str, outcome: dict) -> None:
    """How a generation ended, kept briefly for operators (and tests) to inspect."""
    import json

    client.set(f"{KEY_PREFIX}outcome:{request_id}", json.dumps(outcome), ex=OUTCOME_TTL_S)


def read_outcome(client, request_id: str) -> dict | None:
    import json

    raw = client.get(f"{KEY_PREFIX}outcome:{request_id}")
    return json.loads(raw) if raw else None


# -- claims: one running thing per student --------------------------------------------------
# A claim is a key per (kind, student) holding the token of the run that holds it, with an
# expiry so that a crashed process never locks a student out for long. Two kinds: lesson
# 13's training runs ("training") and the one slot a student may hold in a worker's batch
# ("running": a generation or a trace, across all their tabs).

# delete the claim only if it is still this run's (a later run may hold the key by then)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


def claim_key(kind: str, identity: str) -> str:
    return f"{KEY_PREFIX}{kind}:{identity}"


async def claim(client, kind: str, identity: str, token: str, ttl_s: int) -> bool:
    """Mark the student's `kind` as held by `token`; False if another run holds it."""
    return bool(await client.set(claim_key(kind, identity), token, nx=True, ex=ttl_s))


async def release_claim_async(client, kind: str, identity: str, token: str) -> None:
    await client.eval(_RELEASE, 1, claim_key(kind, identity), token)


def release_claim(client, kind: str, identity: str, token: str) -> None:
    """Free the claim if `token` still holds it (sync client: the worker side)."""
    client.eval(_RELEASE, 1, claim_key(kind, identity), token)


def running_claim_ttl_s() -> int:
    """How long a generation's or trace's slot outlives a web process that died holding it."""
    limits = settings.GLASSBOX
    return int(limits["GENERATION_TIME_LIMIT_S"] + limits["QUEUE_TIMEOUT_S"]) + 30


# -- lesson 13's training runs: a trainer heartbeat and one run per student ------------------

TRAINERS_KEY = KEY_PREFIX + "trainers"  # like WORKERS_KEY, for processes on the "cpu" queue


def training_key(identity: str) -> str:
    return claim_key("training", identity)


def training_claim_ttl_s() -> int:
    """How long a claim outlives a run that never released it (a crashed trainer)."""
    limits = settings.GLASSBOX
    return int(limits["TRAIN_TIME_LIMIT_S"] + limits["QUEUE_TIMEOUT_S"]) + 30


async def claim_training(client, identity: str, request_id: str) -> bool:
    """Mark a training run as this student's; False if one of theirs is still running."""
    return await claim(client, "training", identity, request_id, training_claim_ttl_s())


def release_training(client, identity: str, request_id: str) -> None:
    """Free the student's claim once the run has ended (the trainer side)."""
    release_claim(client, "training", identity, request_id)


async def live_trainers(client) -> int:
    """How many trainer processes sent a heartbeat within the TTL."""
    ttl = settings.GLASSBOX["WORKER_HEARTBEAT_TTL_S"]
    return await client.zcount(TRAINERS_KEY, time.time() - ttl, "+inf")
