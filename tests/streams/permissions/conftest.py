"""Users and notes for the permission tests (committed: DRF permissions ask in a thread)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.streams.permissions.support import make_user
from tests.testapp.models_permissions import PermNote


@pytest.fixture
def alice(transactional_db) -> User:
    return make_user("alice")


@pytest.fixture
def admin(transactional_db) -> User:
    return make_user("admin", is_staff=True)


@pytest.fixture
def notes(alice, admin) -> list[PermNote]:
    return [
        PermNote.objects.create(title="alice's", owner=alice),
        PermNote.objects.create(title="admin's", owner=admin),
    ]
