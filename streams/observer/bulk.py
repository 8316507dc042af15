"""Observed bulk writes: ``QuerySet.update()``, ``bulk_create()``, ``bulk_update()``.

Django sends no signals for these, so observers (DCRF's included) never hear
of them. Models whose manager uses :class:`ObservableQuerySet` report them as
the same events single saves produce, at most one per object per commit::

    class Book(models.Model):
        objects = ObservableManager()                       # or:
        objects = MyQuerySet.as_manager()                   # MyQuerySet(ObservableQuerySet)

``QuerySet.delete()`` needs nothing: with observers connected Django deletes
object by object and sends ``post_delete`` for each (cascades included).

What it costs and what it can't see is in ``docs/OBSERVERS.md`` ("Bulk
writes"): ``update()`` reads the matching pks first and the changed rows
after (two queries, in batches of 500); ``bulk_update()`` reads the rows after
(and before, for observers that track group moves); raw SQL stays invisible;
``bulk_create()`` reports only objects that got their pk back; with
``ignore_conflicts`` (one query before, one after) only the rows it inserted,
with ``update_conflicts`` (one query after) the rows as stored.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models, transaction

from streams.observer.registry import groups_before_write, record_change, registry
from streams.observer.transactions import CREATE, UPDATE

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)

BATCH_SIZE = 500

#: ``QuerySet.bulk_create``'s signature, to read its options however they are passed.
_BULK_CREATE = inspect.signature(models.QuerySet.bulk_create)


class ObservableQuerySet(models.QuerySet[M]):
    """A QuerySet whose bulk writes are reported to the model's observers."""

    def _observed(self) -> bool:
        return registry.is_observed(self.model)

    def _record_updates(self, pks: list[Any], old_groups: dict[Any, Any]) -> None:
        manager = self.model._base_manager.using(self.db)
        for start in range(0, len(pks), BATCH_SIZE):
            for obj in manager.filter(pk__in=pks[start : start + BATCH_SIZE]):
                record_change(self.model, obj, UPDATE, self.db, old_groups.get(obj.pk))

    def update(self, **kwargs: Any) -> int:
        if not self._observed():
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            pks = list(self.values_list("pk", flat=True))
            old_groups = self._stored_groups(pks)
            count = super().update(**kwargs)
            self._record_updates(pks, old_groups)
        return count

    update.alters_data = True  # type: ignore[attr-defined]

    def _stored_groups(self, pks: list[Any]) -> dict[Any, Any]:
        if not any(o.tracks_moves for o in registry.observers_for(self.model)):
            return {}
        return groups_before_write(self.model, pks, self.db)

    def bulk_create(self, objs: Iterable[M], *args: Any, **kwargs: Any) -> list[M]:
        if not self._observed():
            return super().bulk_create(objs, *args, **kwargs)
        objs = list(objs)
        options = _BULK_CREATE.bind(self, objs, *args, **kwargs).arguments
        ignore = bool(options.get("ignore_conflicts"))
        upsert = bool(options.get("update_conflicts"))
        with transaction.atomic(using=self.db):
            # A preset pk (a UUID default, an explicit id) stays on the object
            # even when the database skipped its row (ignore_conflicts) or
            # kept some of the stored values (update_conflicts): report what
            # the database holds, never the object as the caller built it.
            before: set[Any] = set()
            if ignore:
                before = self._existing_pks([obj.pk for obj in objs if obj.pk is not None])
            created = super().bulk_create(objs, *args, **kwargs)
            pks = [obj.pk for obj in created if obj.pk is not None]
            missing = len(created) - len(pks)
            if ignore:
                self._record_stored([pk for pk in pks if pk not in before], CREATE)
            elif upsert:
                # The database doesn't say which rows were inserted: "update".
                self._record_stored(pks, UPDATE)
            else:
                for obj in created:
                    if obj.pk is not None:
                        record_change(self.model, obj, CREATE, self.db)
        if missing:
            logger.info(
                "bulk_create of %d %s: %d object(s) got no pk back from the database and "
                "were not reported to observers.",
                len(created),
                self.model._meta.label,
                missing,
            )
        return created

    def _existing_pks(self, pks: list[Any]) -> set[Any]:
        manager = self.model._base_manager.using(self.db)
        found: set[Any] = set()
        for start in range(0, len(pks), BATCH_SIZE):
            batch = pks[start : start + BATCH_SIZE]
            found.update(manager.filter(pk__in=batch).values_list("pk", flat=True))
        return found

    def _record_stored(self, pks: list[Any], action: str) -> None:
        """Report the stored rows of ``pks`` (those that exist) as ``action``."""
        manager = self.model._base_manager.using(self.db)
        for start in range(0, len(pks), BATCH_SIZE):
            for obj in manager.filter(pk__in=pks[start : start + BATCH_SIZE]):
                record_change(self.model, obj, action, self.db)

    bulk_create.alters_data = True  # type: ignore[attr-defined]

    def bulk_update(self, objs: Iterable[M], fields: Any, *args: Any, **kwargs: Any) -> int:
        if not self._observed():
            return super().bulk_update(objs, fields, *args, **kwargs)
        objs = list(objs)
        with transaction.atomic(using=self.db):
            pks = [obj.pk for obj in objs if obj.pk is not None]
            old_groups = self._stored_groups(pks)
            count = super().bulk_update(objs, fields, *args, **kwargs)
            self._record_updates(pks, old_groups)
        return count

    bulk_update.alters_data = True  # type: ignore[attr-defined]


class ObservableManager(models.Manager.from_queryset(ObservableQuerySet)):  # type: ignore[misc]
    """``objects = ObservableManager()``: a manager whose bulk writes are observed."""
