"""DRF permissions over a websocket: the request they see (method, headers, user),
their messages, DjangoModelPermissions with generated and custom actions."""

from __future__ import annotations

from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.test import override_settings
from rest_framework import permissions as drf

from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.permissions import IsAuthenticated
from tests.conftest import request
from tests.streams.permissions.support import (
    NoteConsumer,
    TokenHeader,
    calls_of,
    consumer_for,
    note_consumer,
    status_of,
    user_with,
)
from tests.streams.support import FORBIDDEN
from tests.testapp.models_permissions import PermNote

# DRF permissions run in the database thread, whose connection housekeeping
# needs database access; sync actions need committed data (see support.py).
pytestmark = pytest.mark.django_db(transaction=True)


async def test_drf_is_admin_user(communicator, alice, admin):
    assert await status_of(communicator, drf.IsAdminUser, user=admin) == 200
    assert await status_of(communicator, drf.IsAdminUser, user=alice) == 403
    assert await status_of(communicator, drf.IsAuthenticated & drf.IsAdminUser, user=alice) == 403
    assert await status_of(communicator, drf.IsAdminUser | IsAuthenticated, user=alice) == 200
    assert await status_of(communicator, IsAuthenticated & ~drf.IsAdminUser, user=alice) == 200


async def test_default_permission_classes_setting_accepts_drf_paths(communicator, alice):
    class Default(AsyncAPIConsumer):
        @action()
        async def go(self, **kwargs: Any) -> tuple[Any, int]:
            return "ok", 200

    setting = {"DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"]}
    with override_settings(CHANNELS_GATEWAY=setting):
        refused = WebsocketCommunicator(Default.as_asgi(), "/")
        refused.scope["user"] = AnonymousUser()
        assert await refused.connect() == (False, 4003)
        comm = await communicator(Default.as_asgi(), user=alice)
        assert (await request(comm, {"action": "go"}))["response_status"] == 200


class RecordsRequest(drf.BasePermission):
    def has_permission(self, request, view):
        calls_of(view.scope).append(
            (request.method, request.META.get("HTTP_AUTHORIZATION"), request.user.username)
        )
        return True


class ActionsConsumer(AsyncAPIConsumer):
    permission_classes = [RecordsRequest]

    @action()
    async def create(self, **kwargs):
        return None, 201

    @action()
    async def update(self, **kwargs):
        return None, 200

    @action()
    async def patch(self, **kwargs):
        return None, 200

    @action()
    async def delete(self, **kwargs):
        return None, 204

    @action()
    async def list(self, **kwargs):
        return [], 200

    @action()
    async def retrieve(self, **kwargs):
        return None, 200

    @action()
    async def custom(self, **kwargs):
        return None, 200

    @action(method="GET")
    async def peek(self, **kwargs):
        return None, 200

    @action(method="delete")
    async def purge(self, **kwargs):
        return None, 200


async def test_drf_request_method_follows_the_action(communicator, alice):
    calls: list[Any] = []
    headers = [(b"authorization", b"Token s3cret"), (b"host", b"example.com")]
    comm = await communicator(ActionsConsumer.as_asgi(), user=alice, calls=calls, headers=headers)
    names = ["create", "update", "patch", "delete", "list", "retrieve", "custom", "peek", "purge"]
    for name in names:
        assert (await request(comm, {"action": name}))["response_status"] < 300
    assert [method for method, _, _ in calls] == [
        "HEAD",  # the connect check (DCRF's)
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "GET",
        "GET",
        "POST",  # undeclared custom action: judged as a write
        "GET",  # declared safe
        "DELETE",  # declared, case-insensitive
    ]
    assert {(auth, name) for _, auth, name in calls} == {("Token s3cret", "alice")}


async def test_drf_permission_reads_authorization_header(communicator):
    good = [(b"authorization", b"Token s3cret")]
    bad = [(b"authorization", b"Token guess")]
    comm = await communicator(consumer_for(TokenHeader).as_asgi(), headers=good)
    assert (await request(comm, {"action": "go"}))["response_status"] == 200
    refused = WebsocketCommunicator(consumer_for(TokenHeader).as_asgi(), "/")
    refused.scope["headers"] = bad
    assert await refused.connect() == (False, 4003)
    comm = await communicator(consumer_for(TokenHeader).as_asgi(), headers=bad, open_socket=True)
    got = await request(comm, {"action": "go", "request_id": 9})
    assert got["response_status"] == 403
    assert got["errors"] == ["A valid token is required."]
    assert got["request_id"] == 9


class DynamicMessage(drf.BasePermission):
    def has_permission(self, request, view):
        if request.method == "HEAD":
            return True
        self.message = f"No entry on {request.method}."
        return False


async def test_drf_message_set_while_refusing_surfaces(communicator):
    comm = await communicator(consumer_for(DynamicMessage).as_asgi())
    got = await request(comm, {"action": "go"})
    assert got["errors"] == ["No entry on POST."]  # "go" declares no method


async def test_django_model_permissions_follow_http_methods(communicator, notes):
    editor = await User.objects.aget(pk=(await user_with("editor", "change_permnote")).pk)
    comm = await communicator(note_consumer(drf.DjangoModelPermissions), user=editor)
    pk = notes[0].pk

    got = await request(comm, {"action": "create", "data": {"title": "new"}})
    assert got["response_status"] == 403  # change does not imply add
    assert not await PermNote.objects.filter(title="new").aexists()
    got = await request(comm, {"action": "update", "pk": pk, "data": {"title": "u"}})
    assert got["response_status"] == 200
    got = await request(comm, {"action": "patch", "pk": pk, "data": {"title": "p"}})
    assert got["response_status"] == 200
    assert (await request(comm, {"action": "delete", "pk": pk}))["response_status"] == 403
    assert await PermNote.objects.filter(pk=pk).aexists()
    assert (await request(comm, {"action": "list"}))["response_status"] == 200
    assert (await request(comm, {"action": "retrieve", "pk": pk}))["response_status"] == 200


async def test_django_model_permissions_add_and_delete(communicator, notes):
    user = await user_with("manager", "add_permnote", "delete_permnote")
    comm = await communicator(note_consumer(drf.DjangoModelPermissions), user=user)
    got = await request(comm, {"action": "create", "data": {"title": "new"}})
    assert got["response_status"] == 201
    got = await request(comm, {"action": "patch", "pk": notes[0].pk, "data": {"title": "x"}})
    assert got["response_status"] == 403
    assert (await request(comm, {"action": "delete", "pk": notes[0].pk}))["response_status"] == 204


async def test_django_model_permissions_refuse_anonymous(notes):
    # DjangoModelPermissions refuses anonymous users, at connect (HEAD) as in DCRF.
    comm = WebsocketCommunicator(note_consumer(drf.DjangoModelPermissions), "/")
    comm.scope["user"] = AnonymousUser()
    assert await comm.connect() == (False, 4003)


async def test_django_model_permissions_on_plain_consumer_with_queryset(communicator):
    user = await user_with("reader")

    class Plain(AsyncAPIConsumer):
        queryset = PermNote.objects.all()
        permission_classes = [drf.DjangoModelPermissions]

        @action()
        async def create(self, **kwargs):
            return "made", 201

    comm = await communicator(Plain.as_asgi(), user=user)
    assert (await request(comm, {"action": "create"}))["response_status"] == 403


class ArchivingNotes(NoteConsumer):
    """Custom actions beside the generated ones, under DjangoModelPermissions."""

    permission_classes = [drf.DjangoModelPermissions]

    @action()
    def archive(self, pk: Any = None, **kwargs: Any) -> tuple[Any, int]:
        PermNote.objects.filter(pk=pk).update(title="archived")
        return "archived", 200

    @action(method="GET")
    def count(self, **kwargs: Any) -> tuple[Any, int]:
        return PermNote.objects.count(), 200

    @action(method="DELETE")
    def purge(self, **kwargs: Any) -> tuple[Any, int]:
        PermNote.objects.all().delete()
        return None, 204


async def test_undeclared_custom_action_is_a_write_under_django_model_permissions(
    communicator, notes
):
    # DCRF judged every custom action as a GET: a user with no permission at
    # all could run this write. Undeclared, it is now a POST (needs "add").
    nobody = await user_with("nobody")
    comm = await communicator(ArchivingNotes.as_asgi(), user=nobody)
    got = await request(comm, {"action": "archive", "pk": notes[0].pk})
    assert got["response_status"] == 403
    assert got["errors"] == FORBIDDEN
    assert (await PermNote.objects.aget(pk=notes[0].pk)).title == "alice's"
    adder = await user_with("adder", "add_permnote")
    comm = await communicator(ArchivingNotes.as_asgi(), user=adder)
    assert (await request(comm, {"action": "archive", "pk": notes[0].pk}))["data"] == "archived"


async def test_declared_methods_are_judged_as_declared(communicator, notes):
    nobody = await user_with("nobody")
    comm = await communicator(ArchivingNotes.as_asgi(), user=nobody)
    got = await request(comm, {"action": "count"})
    assert (got["response_status"], got["data"]) == (200, 2)  # GET needs no model permission
    assert (await request(comm, {"action": "purge"}))["response_status"] == 403
    assert await PermNote.objects.acount() == 2
    adder = await user_with("adder", "add_permnote")  # a POST permission is not a DELETE one
    comm = await communicator(ArchivingNotes.as_asgi(), user=adder)
    assert (await request(comm, {"action": "purge"}))["response_status"] == 403
    deleter = await user_with("deleter", "delete_permnote")
    comm = await communicator(ArchivingNotes.as_asgi(), user=deleter)
    assert (await request(comm, {"action": "purge"}))["response_status"] == 204
    assert await PermNote.objects.acount() == 0


async def test_read_only_drf_permission_lets_declared_reads_through(communicator, notes):
    class ReadOnlyNotes(ArchivingNotes):
        permission_classes = [drf.IsAuthenticatedOrReadOnly]

    comm = await communicator(ReadOnlyNotes.as_asgi(), user=AnonymousUser())
    assert (await request(comm, {"action": "count"}))["response_status"] == 200
    assert (await request(comm, {"action": "archive", "pk": notes[0].pk}))["response_status"] == 403
