"""Who is asking: the identities that rate limits and running slots are keyed by.

A class of forty shares one school address, so the address cannot tell students apart.
Every page that talks to the websocket gives its browser a Django session (the signed
`sessionid` cookie of a stored session), and the websocket knows the student by it, or
by the logged-in user when there is one. The address is only the fallback for a client
that brings no session (a script), and the key of the loose outer bound on everyone
behind it (see docs/operations.md, "Limits").
"""

from __future__ import annotations


def ensure_session(request) -> None:
    """Give this browser a stored session if it has none, so that its websocket can be
    told apart from its classmates' behind the same address."""
    if not request.session.session_key:
        request.session.save()
        request.session.modified = True  # or the middleware would not send the cookie


def address(scope: dict) -> str:
    """The client's network address (the proxy's, unless Daphne runs with
    --proxy-headers behind one)."""
    client = scope.get("client") or ("unknown", 0)
    return f"ip:{client[0]}"


def student_identity(scope: dict) -> str:
    """The user, else the browser's session (every tab of it), else the address.

    Channels' AuthMiddleware has loaded the session by the time a consumer connects, and a
    cookie naming no live session (made up, or expired) leaves no key, so a made-up cookie
    cannot mint identities: such a client counts as its address.
    """
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    session = scope.get("session")
    key = getattr(session, "session_key", None) if session is not None else None
    return f"session:{key}" if key else address(scope)


def has_own_identity(identity: str) -> bool:
    """Whether the identity ties a student's tabs together (a user or a session); an
    address stands for everyone behind it, so it is never held to one running slot."""
    return not identity.startswith("ip:")
