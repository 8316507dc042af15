"""A forbidden object and a missing one answer alike, wherever DRF would.

An attacker who may not see an object must not learn that it exists: every
action that names an object (retrieve, update, patch, delete, subscribe, a
link to it) answers exactly as for a pk that was never used. Object
permissions refuse with 403, as DRF does, unless the permission says "not
found" itself (DRF's DjangoObjectPermissions without read permission).
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission, User
from django.test import override_settings
from rest_framework import permissions as drf
from rest_framework import serializers

from streams import mixins
from streams.filters import FieldFilterBackend
from streams.generics import GenericAsyncAPIConsumer
from streams.observer.generics import ObserverModelInstanceMixin
from tests.conftest import request
from tests.testapp.models_permissions import PermNote

pytestmark = pytest.mark.django_db(transaction=True)

NOT_FOUND = {"errors": ["Not found"], "data": None, "response_status": 404}


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = PermNote
        fields = ["id", "title"]


class Notes(
    ObserverModelInstanceMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.PatchModelMixin,
    mixins.DeleteModelMixin,
    GenericAsyncAPIConsumer,
):
    queryset = PermNote.objects.all()  # the observed model; get_queryset scopes it
    serializer_class = NoteSerializer
    # Undeclared keys never filter: only this allow-list does.
    filterset_fields = ["title"]
    filter_backends = [FieldFilterBackend]

    def get_queryset(self, **kwargs: Any) -> Any:
        return PermNote.objects.filter(owner=self.scope["user"])


def _notes(alice: User, mallory: User) -> tuple[PermNote, PermNote]:
    return (
        PermNote.objects.create(title="alice's secret", owner=alice),
        PermNote.objects.create(title="mallory's", owner=mallory),
    )


@pytest.fixture
async def people() -> tuple[User, User, PermNote, PermNote]:
    alice = await sync_to_async(User.objects.create_user)("alice")
    mallory = await sync_to_async(User.objects.create_user)("mallory")
    hidden, own = await sync_to_async(_notes)(alice, mallory)
    return alice, mallory, hidden, own


MESSAGES = [
    {"action": "retrieve"},
    {"action": "update", "data": {"title": "x"}},
    {"action": "patch", "data": {"title": "x"}},
    {"action": "delete"},
    {"action": "subscribe_instance"},
    {"action": "retrieve", "title": "alice's secret"},
]


def shape(reply: dict[str, Any]) -> dict[str, Any]:
    return {key: reply[key] for key in ("errors", "data", "response_status")}


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: "+".join(m))
async def test_outside_the_queryset_answers_exactly_like_missing(
    communicator, layer, people, message
):
    _, mallory, hidden, _ = people
    comm = await communicator(Notes.as_asgi(), user=mallory)
    hidden_reply = await request(comm, dict(message, pk=hidden.pk, request_id=1))
    missing_reply = await request(comm, dict(message, pk=10**9, request_id=1))
    assert hidden_reply == missing_reply
    assert shape(hidden_reply) == NOT_FOUND
    assert (await PermNote.objects.aget(pk=hidden.pk)).title == "alice's secret"
    assert not any(layer.groups.values())  # nothing subscribed


async def test_undeclared_filter_keys_cannot_probe_hidden_fields(communicator, people):
    # owner__password__startswith is not in filterset_fields: it is ignored, so
    # the answer is the same whatever the hidden value is.
    _, mallory, _, own = people
    comm = await communicator(Notes.as_asgi(), user=mallory)
    replies = [
        await request(
            comm, {"action": "retrieve", "pk": own.pk, "owner__password__startswith": prefix}
        )
        for prefix in ("md5$", "pbkdf2", "!", "zzz")
    ]
    assert all(reply == replies[0] for reply in replies)
    assert replies[0]["response_status"] == 200


# ------------------------------------------- DRF's DjangoObjectPermissions
class OwnerObjectBackend:
    """An object-permission backend (as django-guardian would be): every
    model permission, object permissions only on one's own notes."""

    def authenticate(self, request: Any, **kwargs: Any) -> None:
        return None

    def has_perm(self, user: Any, perm: str, obj: Any = None) -> bool:
        if obj is None:
            return False  # model permissions come from ModelBackend
        return getattr(obj, "owner_id", None) == user.pk


class ReadableObjectPermissions(drf.DjangoObjectPermissions):
    """DRF's documented pattern: reads need the view permission on the object."""

    perms_map = {
        **drf.DjangoObjectPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
    }


class GuardedNotes(Notes):
    permission_classes = [ReadableObjectPermissions]

    def get_queryset(self, **kwargs: Any) -> Any:
        return PermNote.objects.all()  # visibility by object permission only


def _grant_model_perms(user: User) -> None:
    for codename in ("view_permnote", "change_permnote", "delete_permnote"):
        user.user_permissions.add(Permission.objects.get(codename=codename))


@override_settings(
    AUTHENTICATION_BACKENDS=[
        "django.contrib.auth.backends.ModelBackend",
        f"{__name__}.OwnerObjectBackend",
    ]
)
@pytest.mark.parametrize("message", MESSAGES[:5], ids=lambda m: m["action"])
async def test_no_read_permission_answers_exactly_like_missing(
    communicator, layer, people, message
):
    _, mallory, hidden, own = people
    await sync_to_async(_grant_model_perms)(mallory)
    mallory = await User.objects.aget(pk=mallory.pk)  # fresh permission cache
    comm = await communicator(GuardedNotes.as_asgi(), user=mallory)
    hidden_reply = await request(comm, dict(message, pk=hidden.pk, request_id=1))
    missing_reply = await request(comm, dict(message, pk=10**9, request_id=1))
    assert hidden_reply == missing_reply
    assert shape(hidden_reply) == NOT_FOUND
    assert (await PermNote.objects.aget(pk=hidden.pk)).title == "alice's secret"
    # Her own note is served: the 404 was the permission's, not a broken setup.
    own_reply = await request(comm, dict(message, pk=own.pk, request_id=2))
    assert own_reply["response_status"] < 300, own_reply
