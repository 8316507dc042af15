"""AllowAny and IsAuthenticated, alone, negated, and beside DRF's IsAuthenticated."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework import permissions as drf

from streams.permissions import AllowAny, IsAuthenticated
from tests.streams.permissions.support import status_of

# DRF permissions run in the database thread, whose connection housekeeping
# needs database access; sync actions need committed data (see support.py).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("cls", [IsAuthenticated, drf.IsAuthenticated])
async def test_is_authenticated(communicator, alice, cls):
    assert await status_of(communicator, cls, user=alice) == 200
    assert await status_of(communicator, cls, user=AnonymousUser()) == 403
    assert await status_of(communicator, cls) == 403  # no user in the scope at all


async def test_negated_is_authenticated_is_anonymous_only(communicator, alice):
    assert await status_of(communicator, ~IsAuthenticated, user=AnonymousUser()) == 200
    assert await status_of(communicator, ~IsAuthenticated, user=alice) == 403
    assert await status_of(communicator, ~AllowAny, user=alice) == 403
