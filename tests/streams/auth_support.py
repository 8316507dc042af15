"""Helpers shared by the ``streams.auth`` tests: users, sessions, a watched gateway."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams.auth import AuthMiddlewareStack
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action


class WhoAmI(AsyncAPIConsumer):
    @action(method="GET")
    async def whoami(self, **kwargs: Any) -> tuple[Any, int]:
        user = self.scope.get("user")
        return getattr(user, "username", None) or None, 200


class AuthGateway(Gateway):
    streams = {"me": WhoAmI}


def application(**token_options: Any) -> Any:
    return AuthMiddlewareStack(AuthGateway.as_asgi(), **token_options)


def make_user(username: str = "alice", password: str = "pw") -> User:
    return User.objects.create_user(username=username, password=password)


def logged_in_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def session_cookie(user: User) -> tuple[Client, list[tuple[bytes, bytes]]]:
    client = await sync_to_async(logged_in_client)(user)
    key = client.cookies["sessionid"].value
    return client, [(b"cookie", f"sessionid={key}".encode())]


async def open_socket(
    headers: list[tuple[bytes, bytes]] | None = None,
    subprotocols: list[str] | None = None,
    path: str = "/ws/",
    **token_options: Any,
) -> GatewayCommunicator:
    comm = GatewayCommunicator(
        application(**token_options), path, headers=headers, subprotocols=subprotocols
    )
    connected, detail = await comm.connect(timeout=5)
    assert connected, f"refused: {detail}"
    return comm


async def whoami(comm: GatewayCommunicator, request_id: Any = "me") -> Any:
    await comm.send_to("me", {"action": "whoami", "request_id": request_id})
    reply = await comm.receive_from("me", request_id=request_id, timeout=5)
    return reply["data"]
