"""Who a socket acts as, and for how long.

- :class:`TokenAuthMiddleware`: DRF tokens and JWTs from the header, a
  subprotocol or (opt-in) the query string (``streams.auth.tokens``).
- :class:`CredentialLifetimeMiddleware`: a socket ends (close 4401) when its
  credential does: logout, session expiry or deletion, password change,
  deactivation, token expiry or revocation (``streams.auth.lifetime``), in
  every process (``streams.auth.revocation``, connected by ``StreamsConfig``).
- :func:`AuthMiddlewareStack`: Channels' cookie/session/user stack plus both.

User guide: ``docs/AUTH.md``.
"""

from __future__ import annotations

from typing import Any

from streams.auth.lifetime import CLOSE_CODE, CredentialLifetimeMiddleware
from streams.auth.tokens import SUBPROTOCOL, TokenAuthMiddleware

__all__ = [
    "CLOSE_CODE",
    "SUBPROTOCOL",
    "AuthMiddlewareStack",
    "CredentialLifetimeMiddleware",
    "TokenAuthMiddleware",
]


def AuthMiddlewareStack(inner: Any, **token_options: Any) -> Any:
    """Channels' ``AuthMiddlewareStack`` (cookie, session, user), then tokens, then lifetimes.

    A drop-in replacement: ``from streams.auth import AuthMiddlewareStack``.
    ``token_options`` go to :class:`TokenAuthMiddleware` (e.g. ``allow_query=True``).
    """
    from channels.auth import AuthMiddlewareStack as ChannelsAuthMiddlewareStack

    return ChannelsAuthMiddlewareStack(
        TokenAuthMiddleware(CredentialLifetimeMiddleware(inner), **token_options)
    )
