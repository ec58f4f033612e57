"""Browsers and worker queues for the consumer tests: a Django session as a lesson page
gives one, a websocket opened with it (in-process, through the real ASGI application), and
the Celery tasks the consumer published, read back from Redis in Celery's format."""

from __future__ import annotations

import base64
import json

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore

from webapp.asgi import application

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@sync_to_async
def new_session() -> str:
    """The key of a fresh Django session, as a lesson page gives every browser."""
    session = SessionStore()
    session.save()
    return session.session_key


@sync_to_async
def logged_in_session(username: str) -> str:
    """A session key of `username`, logged in (as a browser of theirs would hold)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username=username)
    browser = Client()
    browser.force_login(user)
    return browser.cookies["sessionid"].value


async def connect(session_key: str | None = None) -> WebsocketCommunicator:
    """An open websocket (its `hello` read), with the session's cookie when given."""
    headers = [ORIGIN]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/generate/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "hello"
    return communicator


async def ask(ws, message: dict) -> dict:
    await ws.send_json_to(message)
    return await ws.receive_json_from(timeout=5)


def task_kwargs(raw: bytes) -> dict:
    """The kwargs of one Celery task message as the Redis transport stores it."""
    return json.loads(base64.b64decode(json.loads(raw)["body"]))[1]


def newest_task(redis_client, queue: str) -> dict:
    """The kwargs of the last task the consumer published on `queue`, taken off it."""
    raw = redis_client.lpop(queue)
    assert raw is not None, f"nothing was queued on {queue!r}"
    return task_kwargs(raw)


def all_tasks(redis_client, queue: str) -> list[dict]:
    """The kwargs of every task published on `queue`, oldest first, taken off it."""
    tasks = []
    while (raw := redis_client.rpop(queue)) is not None:
        tasks.append(task_kwargs(raw))
    return tasks
