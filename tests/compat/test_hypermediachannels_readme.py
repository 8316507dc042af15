"""hypermediachannels 0.0.5's documented usage, run with only the import prefix changed.

hypermediachannels' README has no examples beyond its title; its test suite
is where its usage is written down, so these are its serializers, consumers
and demultiplexer (``context={"scope": {"demultiplexer_cls": ...}}``) and the
link dicts it asserts, on models of the same shape (``models_compat``).
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway import AsyncJsonWebsocketDemultiplexer
from hypermedia.serializers import HyperChannelsApiModelSerializer
from streams.generics import GenericAsyncAPIConsumer
from tests.testapp.models_compat import CompatProfile as UserProfile
from tests.testapp.models_compat import CompatTeam as Team
from tests.testapp.models_compat import CompatUser as User

pytestmark = pytest.mark.django_db(transaction=True)


class UserSerializer(HyperChannelsApiModelSerializer):
    class Meta:
        model = User
        fields = ("@id", "username", "profile")

        extra_kwargs = {
            "profile": {
                "kwarg_mappings": {
                    "user_pk": "self.pk",
                }
            },
        }


class UserProfileSerializer(HyperChannelsApiModelSerializer):
    class Meta:
        model = UserProfile
        fields = ("@id", "user")


class UserConsumer(GenericAsyncAPIConsumer):
    queryset = User.objects.all()
    serializer_class = UserSerializer


class UserProfileConsumer(GenericAsyncAPIConsumer):
    queryset = UserProfile.objects.all()
    serializer_class = UserProfileSerializer


class MainDemultiplexer(AsyncJsonWebsocketDemultiplexer):
    applications = {"users": UserConsumer, "profiles": UserProfileConsumer}


def serialize(serializer_class: type, instance: Any) -> Any:
    """hypermediachannels' way: the demultiplexer class in the serializer's scope."""
    return serializer_class(
        instance=instance, context={"scope": {"demultiplexer_cls": MainDemultiplexer}}
    ).data


def profile_link(profile: Any) -> dict[str, Any]:
    """The ``@id`` link of a profile."""
    return {"stream": "profiles", "payload": {"pk": profile.pk, "action": "retrieve"}}


def profile_serializer_linking(field: str, action_name: str) -> type:
    """Its many-to-many examples: ``field`` linked to ``action_name`` by the user's pk."""

    class UserProfileSerializer(HyperChannelsApiModelSerializer):
        class Meta:
            model = UserProfile
            fields = ("@id", field)

            extra_kwargs = {
                field: {
                    "action_name": action_name,
                    "kwarg_mappings": {
                        "user_pk": "self.user.pk",
                    },
                },
            }

    return UserProfileSerializer


@pytest.fixture
def profile():
    user = User.objects.create(username="bob")
    team = Team.objects.create(name="The Team")
    return UserProfile.objects.create(user=user, team=team)


def test_forward_reference_default_params(profile):
    data = serialize(UserProfileSerializer, profile)
    assert data == {
        "user": {"payload": {"action": "retrieve", "pk": profile.user.pk}, "stream": "users"},
        "@id": profile_link(profile),
    }


def test_forward_reference_override_lookup(profile):
    class UserProfileSerializer(HyperChannelsApiModelSerializer):
        class Meta:
            model = UserProfile
            fields = ("@id", "user")

            extra_kwargs = {
                "user": {
                    "kwarg_mappings": {
                        "username": "username",
                        "profile_pk": "self.pk",
                        "team_pk": "self.team.pk",
                    }
                },
            }

    data = serialize(UserProfileSerializer, profile)
    assert data == {
        "@id": profile_link(profile),
        "user": {
            "stream": "users",
            "payload": {
                "username": "bob",
                "profile_pk": profile.pk,
                "team_pk": profile.team.pk,
                "action": "retrieve",
            },
        },
    }


def test_forward_many_to_many(profile):
    data = serialize(profile_serializer_linking("friends", "friends_with_profiles"), profile)
    assert data == {
        "@id": profile_link(profile),
        "friends": {
            "payload": {"action": "friends_with_profiles", "user_pk": profile.user.pk},
            "stream": "profiles",
        },
    }


def test_backwards_reference_default_params(profile):
    user = profile.user
    data = serialize(UserSerializer, user)
    assert data == {
        "username": "bob",
        "@id": {"stream": "users", "payload": {"pk": user.pk, "action": "retrieve"}},
        "profile": {"payload": {"action": "list", "user_pk": user.pk}, "stream": "profiles"},
    }


def test_backwards_many_to_many(profile):
    data = serialize(profile_serializer_linking("friended", "friended_by_profiles"), profile)
    assert data == {
        "@id": profile_link(profile),
        "friended": {
            "payload": {"action": "friended_by_profiles", "user_pk": profile.user.pk},
            "stream": "profiles",
        },
    }


def test_no_demultiplexer_is_a_value_error(profile):
    # hypermediachannels raised ValueError; code catching it keeps working.
    with pytest.raises(ValueError, match="UserProfileSerializer"):
        _ = UserProfileSerializer(instance=profile, context={"scope": {}}).data
