"""Announce credential changes to every process: the sending side of credential lifetime.

Receivers, connected by ``StreamsConfig.ready()`` in every process (HTTP
workers included, where logouts and password changes happen), send one
channel-layer message to the user's group (:func:`~streams.auth.credentials.user_group`):

============================================  =====================  ==========================
event                                         reason                 which sockets end
============================================  =====================  ==========================
``user_logged_out`` with a request            ``logged_out``         those of that session
a ``Session`` row deleted (flush, admin)      ``session_ended``      those of that session
``set_password()`` then ``save()``            ``password_changed``   those whose session hash
                                                                     no longer matches (each
                                                                     checks its session again)
user saved inactive, or deleted               ``user_inactive``      every session socket of the
                                                                     user (each checks again)
a DRF ``Token`` deleted                       ``token_revoked``      those of that token
``user_logged_out`` without a request         ``logged_out``         each session socket checks
(``channels.auth.logout``)                                           its session again
============================================  =====================  ==========================

Messages name a credential by its SHA-256 digest, never by the secret.
Database events are announced after the transaction commits (a rolled back
password change ends nothing); a channel layer that fails is logged, never
raised into the write.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.apps import apps
from django.contrib.auth import SESSION_KEY, get_user_model, user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from streams.auth.credentials import (
    LOGGED_OUT,
    PASSWORD_CHANGED,
    SESSION_ENDED,
    TOKEN_REVOKED,
    USER_INACTIVE,
    digest,
    user_group,
)
from streams.auth.lifetime import MESSAGE_TYPE

__all__ = ["announce", "connect_receivers"]

logger = logging.getLogger(__name__)

_pending: set[asyncio.Task[Any]] = set()
_DISPATCH_PREFIX = "streams.auth.revocation."


def announce(user_pk: Any, reason: str, credential_digest: str | None = None) -> None:
    """Tell every watched socket of ``user_pk`` that a credential changed.

    With ``credential_digest`` the sockets of that credential end with
    ``reason``; without, each re-checks its credential in the store. Callable
    from sync code (sends at once) or from a running event loop (schedules).
    """
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": MESSAGE_TYPE, "reason": reason, "digest": credential_digest}
    group = user_group(user_pk)

    async def send() -> None:
        try:
            await layer.group_send(group, message)
        except Exception:
            logger.exception(
                "Could not announce %r for a user on the channel layer: sockets using the "
                "credential stay open until they expire or reconnect.",
                reason,
            )

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(send)()
        return
    task = loop.create_task(send())
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def _after_commit(user_pk: Any, reason: str, credential_digest: str | None = None) -> None:
    transaction.on_commit(lambda: announce(user_pk, reason, credential_digest), robust=True)


# ------------------------------------------------------------------ receivers
def _on_logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if user is None or getattr(user, "pk", None) is None:
        return
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if key:
        announce(user.pk, LOGGED_OUT, digest("session", key))
    else:
        # channels.auth.logout(scope) sends no request; the session it flushes
        # next is found gone when each socket checks again (and, with database
        # sessions, its deletion is announced too).
        _after_commit(user.pk, LOGGED_OUT)


def _on_user_saved(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if created:
        return
    if getattr(instance, "is_active", True) is False:
        _after_commit(instance.pk, USER_INACTIVE)
    elif getattr(instance, "_password", None) is not None:
        # AbstractBaseUser.set_password() keeps the raw password in _password
        # until the save that stores the new hash: this save changes it.
        _after_commit(instance.pk, PASSWORD_CHANGED)


def _on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _after_commit(instance.pk, USER_INACTIVE)


def _on_session_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    expire_date = getattr(instance, "expire_date", None)
    if expire_date is not None and expire_date <= timezone.now():
        return  # clearsessions: already expired, its sockets' timers ended them
    try:
        user_pk = instance.get_decoded().get(SESSION_KEY)
    except Exception:  # undecodable (foreign SECRET_KEY, corrupt): no user to tell
        return
    if user_pk is not None:
        _after_commit(user_pk, SESSION_ENDED, digest("session", instance.session_key))


def _on_token_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _after_commit(instance.user_id, TOKEN_REVOKED, digest("token", instance.key))


def connect_receivers() -> None:
    """Connect the receivers for what is installed; idempotent (dispatch_uid)."""
    user_model = get_user_model()
    user_logged_out.connect(_on_logged_out, dispatch_uid=_DISPATCH_PREFIX + "logged_out")
    post_save.connect(
        _on_user_saved, sender=user_model, dispatch_uid=_DISPATCH_PREFIX + "user_saved"
    )
    post_delete.connect(
        _on_user_deleted, sender=user_model, dispatch_uid=_DISPATCH_PREFIX + "user_deleted"
    )
    if apps.is_installed("django.contrib.sessions"):
        from django.contrib.sessions.models import Session

        post_delete.connect(
            _on_session_deleted, sender=Session, dispatch_uid=_DISPATCH_PREFIX + "session"
        )
    if apps.is_installed("rest_framework.authtoken"):
        from rest_framework.authtoken.models import Token

        post_delete.connect(
            _on_token_deleted, sender=Token, dispatch_uid=_DISPATCH_PREFIX + "token"
        )
