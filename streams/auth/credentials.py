"""What a socket was authenticated with, and whether it still holds.

A :class:`Credential` is attached to the scope (``scope["credential"]``) by
:class:`~streams.auth.tokens.TokenAuthMiddleware`, or derived from the
session by :func:`credential_from_scope`. It knows three things:

* ``user_pk``: whose sockets to tell when that user's credentials change
  (one channel-layer group per user, :func:`user_group`);
* ``digest``: a SHA-256 of the secret (session key, token), so a revocation
  message can name exactly the sockets it ends without the secret ever
  travelling through the channel layer;
* ``expires_at``: when the credential lapses on its own (a session's expiry,
  a JWT's ``exp``), for a timer; and :meth:`Credential.check`, which asks the
  store again (after a password change, or when the timer fires).

Checks read the database, so they run in the database thread.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.utils.crypto import constant_time_compare

__all__ = [
    "Credential",
    "SessionCredential",
    "credential_from_scope",
    "digest",
    "user_group",
]

#: Why a socket's credentials ended: the close reason the client receives.
LOGGED_OUT = "logged_out"
SESSION_ENDED = "session_ended"
SESSION_EXPIRED = "session_expired"
PASSWORD_CHANGED = "password_changed"
USER_INACTIVE = "user_inactive"
TOKEN_EXPIRED = "token_expired"
TOKEN_REVOKED = "token_revoked"

GROUP_PREFIX = "streams.auth."


def digest(kind: str, secret: str) -> str:
    """A stable, non-reversible name for a secret (session key, token key, JWT)."""
    return hashlib.sha256(f"{kind}:{secret}".encode()).hexdigest()


def user_group(user_pk: Any) -> str:
    """The channel-layer group of every credential-watched socket of one user.

    Hashed, so any primary key (UUIDs, strings with spaces) makes a valid group
    name of fixed length (77 characters).
    """
    return GROUP_PREFIX + hashlib.sha256(str(user_pk).encode()).hexdigest()


@dataclass
class Credential:
    """Base: a credential that never lapses and is never re-checked."""

    kind: str
    user_pk: Any
    digest: str
    #: Unix time at which the credential lapses; ``None``: never by itself.
    expires_at: float | None = None

    async def check(self) -> str | None:
        """``None`` while the credential holds, else the reason it ended.

        Also refreshes ``expires_at`` when the store moved it (a session
        saved on every request).
        """
        if self.expires_at is not None and self.expires_at <= time.time():
            return self.expired_reason
        return None

    @property
    def expired_reason(self) -> str:
        return TOKEN_EXPIRED


@dataclass
class SessionCredential(Credential):
    """A Django session (``AuthMiddlewareStack``): logout, deletion, expiry, password."""

    session_key: str = ""

    @property
    def expired_reason(self) -> str:
        return SESSION_EXPIRED

    async def check(self) -> str | None:
        reason, expires_at = await database_sync_to_async(self._check_in_store)()
        if reason is None:
            self.expires_at = expires_at
        return reason

    def _check_in_store(self) -> tuple[str | None, float | None]:
        store = import_module(settings.SESSION_ENGINE).SessionStore(self.session_key)
        data = store.load()  # {} when the session is gone or expired
        if not data or data.get(SESSION_KEY) != str(self.user_pk):
            expires_at = self.expires_at
            expired = expires_at is not None and expires_at <= time.time()
            return (SESSION_EXPIRED if expired else SESSION_ENDED), None
        backend_path = data.get(BACKEND_SESSION_KEY)
        if backend_path not in settings.AUTHENTICATION_BACKENDS:
            return SESSION_ENDED, None
        user = load_backend(backend_path).get_user(self.user_pk)
        if user is None:  # deleted, or refused by the backend (inactive)
            return USER_INACTIVE, None
        if not _hash_matches(user, data.get(HASH_SESSION_KEY)):
            return PASSWORD_CHANGED, None
        return None, _session_expiry(store)


def _hash_matches(user: Any, session_hash: Any) -> bool:
    """Django's own rule (``get_user``): the current hash, or one from SECRET_KEY_FALLBACKS."""
    if not hasattr(user, "get_session_auth_hash"):
        return True
    if not session_hash:
        return False
    if constant_time_compare(session_hash, user.get_session_auth_hash()):
        return True
    fallbacks = getattr(user, "get_session_auth_fallback_hash", None)
    return fallbacks is not None and any(
        constant_time_compare(session_hash, candidate) for candidate in fallbacks()
    )


def _session_expiry(store: Any) -> float | None:
    """When the stored session lapses, as Unix time.

    Database-backed stores keep the real expiry on the row (set when the
    session was last saved); ``get_expiry_date()`` would count from now.
    """
    model = getattr(store, "model", None)
    if model is not None:
        expire_date = (
            model.objects.filter(session_key=store.session_key)
            .values_list("expire_date", flat=True)
            .first()
        )
        if expire_date is not None:
            return float(expire_date.timestamp())
    return float(store.get_expiry_date().timestamp())


def _session_credential(scope: dict[str, Any]) -> Credential | None:
    user: Any = scope.get("user")
    session = scope.get("session")
    if user is None or session is None or not getattr(user, "is_authenticated", False):
        return None
    key = getattr(session, "session_key", None)
    if not key or session.get(SESSION_KEY) != str(user.pk):
        return None  # authenticated by something else than this session
    return SessionCredential(
        kind="session",
        user_pk=user.pk,
        digest=digest("session", key),
        expires_at=_session_expiry(session),
        session_key=key,
    )


async def credential_from_scope(scope: dict[str, Any]) -> Credential | None:
    """The scope's credential: the one a token middleware set, else the session's.

    ``None`` for anonymous sockets, which have nothing to end.
    """
    credential = scope.get("credential")
    if isinstance(credential, Credential):
        return credential
    if scope.get("session") is None or not getattr(scope.get("user"), "is_authenticated", False):
        return None
    return await database_sync_to_async(_session_credential)(scope)
