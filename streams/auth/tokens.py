"""Token authentication for sockets opened by non-browser clients (and browsers without cookies).

:class:`TokenAuthMiddleware` accepts a DRF ``Token`` (``rest_framework.authtoken``)
or, when ``djangorestframework-simplejwt`` is installed (the ``jwt`` extra), a
JWT access token, from one of:

* the ``Authorization`` header: ``Token <key>`` or ``Bearer <jwt>`` (simplejwt's
  ``AUTH_HEADER_TYPES``); the right choice for servers and mobile apps;
* a subprotocol, for browsers (which cannot set headers on a websocket):
  offer ``["channels-gateway", "token.<key>"]`` or
  ``["channels-gateway", "bearer.<jwt>"]``; the socket is accepted with
  ``channels-gateway``, never with the credential;
* a query parameter (``?token=<key>``, ``?jwt=<jwt>``), only when enabled with
  ``allow_query=True``: query strings end up in server, proxy and browser
  history logs.

A socket presenting one valid credential is authenticated as its user
(``scope["user"]``), and ``scope["credential"]`` says what it used, so
:class:`~streams.auth.lifetime.CredentialLifetimeMiddleware` ends it when the
token expires (JWT ``exp``: a timer) or is revoked (DRF token deleted). A socket
presenting no credential is left as it came (e.g. the session's user). A
socket presenting a bad one (unknown, expired, malformed, too long, or more
than one credential) is refused at the handshake, as DRF answers 401 rather
than treating the request as anonymous.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from channels.db import database_sync_to_async
from django.apps import apps

from streams.auth.credentials import TOKEN_REVOKED, USER_INACTIVE, Credential, digest

__all__ = ["SUBPROTOCOL", "JWTCredential", "TokenAuthMiddleware", "TokenCredential"]

logger = logging.getLogger(__name__)

#: The subprotocol a socket that authenticates by subprotocol is accepted with.
SUBPROTOCOL = "channels-gateway"
#: Longest credential looked at; longer ones are refused unread.
MAX_CREDENTIAL_LENGTH = 4096
#: DRF's Token.key is at most 40 characters.
DRF_KEY = re.compile(r"[0-9A-Za-z]{1,40}")
#: What a JWT looks like (three base64url parts); anything else is not looked up.
JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class RefusedCredential(Exception):
    """The presented credential is not acceptable; the handshake is refused."""


class TokenCredential(Credential):
    """A DRF token: never expires by itself; ends when deleted or its user is deactivated."""

    async def check(self) -> str | None:
        return await database_sync_to_async(self._check)()

    def _check(self) -> str | None:
        from rest_framework.authtoken.models import Token

        token = Token.objects.select_related("user").filter(user_id=self.user_pk).first()
        if token is None or digest("token", token.key) != self.digest:
            return TOKEN_REVOKED
        if not token.user.is_active:
            return USER_INACTIVE
        return None


class JWTCredential(Credential):
    """A JWT access token: ends at ``exp``, or when its user is deactivated or deleted."""

    async def check(self) -> str | None:
        expired = await super().check()
        if expired is not None:
            return expired
        return await database_sync_to_async(self._check_user)()

    def _check_user(self) -> str | None:
        from django.contrib.auth import get_user_model

        user = get_user_model()._default_manager.filter(pk=self.user_pk).first()
        if user is None or not getattr(user, "is_active", True):
            return USER_INACTIVE
        return None


def _jwt_available() -> bool:
    try:
        import rest_framework_simplejwt  # noqa: F401
    except ImportError:
        return False
    return True


def _jwt_header_types() -> tuple[str, ...]:
    if not _jwt_available():
        return ("Bearer",)
    from rest_framework_simplejwt.settings import api_settings as jwt_settings

    types = jwt_settings.AUTH_HEADER_TYPES
    return (types,) if isinstance(types, str) else tuple(types)


class TokenAuthMiddleware:
    """ASGI middleware authenticating websocket handshakes by token (see the module doc).

    ``allow_query``: also read ``?token=`` / ``?jwt=`` (off by default: URLs
    are logged). ``query_params`` renames them: ``{"token": ..., "jwt": ...}``.
    """

    def __init__(
        self,
        inner: Any,
        *,
        allow_header: bool = True,
        allow_subprotocol: bool = True,
        allow_query: bool = False,
        query_params: dict[str, str] | None = None,
    ) -> None:
        self.inner = inner
        self.allow_header = allow_header
        self.allow_subprotocol = allow_subprotocol
        self.allow_query = allow_query
        names = {"token": "token", "jwt": "jwt", **(query_params or {})}
        self.query_params = {names["token"]: "token", names["jwt"]: "jwt"}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") != "websocket":
            return await self.inner(scope, receive, send)
        try:
            scope, presented = self._extract(scope)
            if presented is None:
                return await self.inner(scope, receive, send)
            kind, secret, via = presented
            user, credential = await self._authenticate(kind, secret)
        except RefusedCredential as exc:
            logger.info("token auth: handshake refused (%s)", exc)
            return await _refuse(receive, send)
        scope = dict(scope, user=user, credential=credential)
        if via == "subprotocol":
            send = _accepting_with(SUBPROTOCOL, send)
        return await self.inner(scope, receive, send)

    # ------------------------------------------------------------ extraction
    def _extract(self, scope: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, str, str] | None]:
        """The scope without credentials in it, and the one credential presented."""
        found: list[tuple[str, str, str]] = []
        scope = dict(scope)
        if self.allow_header:
            for name, value in scope.get("headers") or ():
                if name.lower() == b"authorization":
                    parsed = self._from_header(value)
                    if parsed is not None:
                        found.append((*parsed, "header"))
        if self.allow_subprotocol:
            offered = list(scope.get("subprotocols") or ())
            kept = []
            for entry in offered:
                parsed = _from_subprotocol(entry)
                if parsed is None:
                    kept.append(entry)
                else:
                    found.append((*parsed, "subprotocol"))
            if len(kept) != len(offered):
                if SUBPROTOCOL not in kept:
                    raise RefusedCredential(
                        f"a credential subprotocol must be offered with {SUBPROTOCOL!r}"
                    )
                scope["subprotocols"] = kept
        if self.allow_query:
            raw = scope.get("query_string") or b""
            if len(raw) > 4 * MAX_CREDENTIAL_LENGTH:
                raise RefusedCredential("query string too long")
            pairs = parse_qsl(raw.decode("latin1"), keep_blank_values=True)
            kept_pairs = []
            for key, value in pairs:
                kind = self.query_params.get(key)
                if kind is None:
                    kept_pairs.append((key, value))
                else:
                    found.append((kind, _bounded(value), "query"))
            if len(kept_pairs) != len(pairs):
                # Applications never see the secret in the query string they may log.
                scope["query_string"] = urlencode(kept_pairs).encode("latin1")
        if len(found) > 1:
            raise RefusedCredential("more than one credential presented")
        return scope, (found[0] if found else None)

    @staticmethod
    def _from_header(raw: bytes) -> tuple[str, str] | None:
        """``(kind, secret)``, or ``None`` for a scheme that is not ours.

        Other schemes (``Basic`` from a password-protected staging site, which
        browsers repeat on websocket handshakes) are left alone, as DRF's
        authenticators skip headers they do not own.
        """
        scheme, _, rest = raw.strip().partition(b" ")
        if scheme.lower() == b"token":
            kind = "token"
        elif scheme.decode("latin1") in _jwt_header_types():
            kind = "jwt"
        else:
            return None
        if len(raw) > MAX_CREDENTIAL_LENGTH + 16:
            raise RefusedCredential("Authorization header too long")
        try:
            value = rest.decode("ascii").strip()
        except UnicodeDecodeError:
            raise RefusedCredential("Authorization header is not ASCII") from None
        return kind, _bounded(value)

    # -------------------------------------------------------- authentication
    async def _authenticate(self, kind: str, secret: str) -> tuple[Any, Credential]:
        if kind == "token":
            return await database_sync_to_async(_drf_token_user)(secret)
        return await database_sync_to_async(_jwt_user)(secret)


def _bounded(value: str) -> str:
    if not value or len(value) > MAX_CREDENTIAL_LENGTH:
        raise RefusedCredential("empty or oversized credential")
    return value


def _from_subprotocol(entry: Any) -> tuple[str, str] | None:
    if not isinstance(entry, str):
        return None
    for prefix, kind in (("token.", "token"), ("bearer.", "jwt")):
        if entry.startswith(prefix):
            return kind, _bounded(entry[len(prefix) :])
    return None


def _drf_token_user(key: str) -> tuple[Any, Credential]:
    if not apps.is_installed("rest_framework.authtoken"):
        raise RefusedCredential(
            "a DRF token was presented but rest_framework.authtoken is not in INSTALLED_APPS"
        )
    if not DRF_KEY.fullmatch(key):
        raise RefusedCredential("malformed token")
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None:
        raise RefusedCredential("unknown token")
    if not token.user.is_active:
        raise RefusedCredential("the token's user is inactive")
    credential = TokenCredential(
        kind="token", user_pk=token.user.pk, digest=digest("token", key), expires_at=None
    )
    return token.user, credential


def _jwt_user(raw: str) -> tuple[Any, Credential]:
    if not _jwt_available():
        raise RefusedCredential(
            "a JWT was presented but djangorestframework-simplejwt is not installed "
            "(pip install 'channels-gateway[jwt]')"
        )
    if not JWT_SHAPE.fullmatch(raw):
        raise RefusedCredential("malformed JWT")
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
    from rest_framework_simplejwt.settings import api_settings as jwt_settings

    authentication = JWTAuthentication()
    try:
        validated = authentication.get_validated_token(raw.encode("ascii"))
        user = authentication.get_user(validated)
    except (InvalidToken, AuthenticationFailed, TokenError) as exc:
        raise RefusedCredential(f"JWT refused: {exc}") from None
    expires_at = validated.get("exp")
    jti = validated.get(jwt_settings.JTI_CLAIM)
    credential = JWTCredential(
        kind="jwt",
        user_pk=user.pk,
        digest=digest("jwt", str(jti) if jti else raw),
        expires_at=float(expires_at) if expires_at is not None else None,
    )
    return user, credential


async def _refuse(receive: Any, send: Any) -> None:
    """Refuse the handshake: a close before accept is an HTTP 403 to the client."""
    message = await receive()
    if message.get("type") == "websocket.connect":
        await send({"type": "websocket.close", "code": 4401})


def _accepting_with(subprotocol: str, send: Any) -> Any:
    """Accept with ``subprotocol`` unless the application picked one itself."""

    async def wrapped(message: dict[str, Any]) -> None:
        if message.get("type") == "websocket.accept" and not message.get("subprotocol"):
            message = dict(message, subprotocol=subprotocol)
        await send(message)

    return wrapped
