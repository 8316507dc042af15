"""Model actions for :class:`streams.generics.GenericAsyncAPIConsumer`, DCRF's names and shapes.

==============================  ===========  ====================================
mixin                           action       reply
==============================  ===========  ====================================
``ListModelMixin``              list         200, list of objects
``RetrieveModelMixin``          retrieve     200, object (lookup key, ``pk``)
``CreateModelMixin``            create       201, object (``data``)
``UpdateModelMixin``            update       200, object (lookup key + ``data``)
``PatchModelMixin``             patch        200, object (partial update)
``DeleteModelMixin``            delete       204, ``null``
``PaginatedModelListMixin``     list         200, ``{count, results, limit, offset}``
``StreamedPaginatedListMixin``  list,        one 200 reply per page; 200 ``null``
                                list_cancel
==============================  ===========  ====================================

The mixins know nothing of the transport: they call the generic hooks and
return ``(data, status)``. Reads are sync actions that follow
``ATOMIC_REQUESTS`` like any other. Writes (create, update, patch, delete) are
always atomic: ``perform_*`` hooks, signals and nested serializers may write
several rows, and an error half-way (a ``ValidationError`` raised by a hook,
a failing signal handler) must leave none of them behind. The cost is one
``BEGIN``/``COMMIT`` pair per write, which a write pays on most databases
anyway. Override the action with ``@action(atomic=False)`` to opt out.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rest_framework import status
from rest_framework.exceptions import Throttled

from streams.decorators import action
from streams.errors import ActionError
from streams.generics import SettingDefault, without
from streams.pagination import WebsocketLimitOffsetPagination
from streams.settings import api_settings
from streams.threads import run_in_action_thread

LIST_TOO_LONG_MESSAGE = (
    "More than {limit} objects match (MAX_PAGE_SIZE); narrow the filters or ask a paginated list."
)

if TYPE_CHECKING:
    from django.db.models import Model
    from rest_framework.serializers import BaseSerializer

    from streams.generics import GenericAsyncAPIConsumer as _Base
else:
    from streams.composition import MixinBase as _Base

logger = logging.getLogger(__name__)


class CreateModelMixin(_Base):
    @action(atomic=True, method="POST")
    def create(self, data: Any = None, **kwargs: Any) -> tuple[Any, int]:
        """Validate ``data``, save it through ``perform_create``; 201 with the new object."""
        serializer = self.get_serializer(data=data, action_kwargs=kwargs)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer, **without(kwargs, "serializer"))
        return serializer.data, status.HTTP_201_CREATED

    def perform_create(self, serializer: BaseSerializer[Any], **kwargs: Any) -> None:
        serializer.save()


class ListModelMixin(_Base):
    @action(method="GET")
    def list(self, **kwargs: Any) -> tuple[Any, int]:
        """Every object of the filtered queryset, unpaginated (DCRF's behaviour),
        up to ``MAX_PAGE_SIZE``: a list matching more is refused (400) rather
        than loading and sending a whole table, or silently cut short."""
        hook_kwargs = without(kwargs, "queryset")
        queryset = self.filter_queryset(self.get_queryset(**hook_kwargs), **hook_kwargs)
        objects: Any = queryset
        cap = api_settings.MAX_PAGE_SIZE
        if cap:
            objects = list(queryset[: int(cap) + 1])
            if len(objects) > int(cap):
                raise ActionError(LIST_TOO_LONG_MESSAGE.format(limit=int(cap)), status=400)
        return self.represent_many(objects, kwargs), status.HTTP_200_OK


class RetrieveModelMixin(_Base):
    @action(method="GET")
    def retrieve(self, **kwargs: Any) -> tuple[Any, int]:
        """The object named by the lookup key (``pk`` unless ``lookup_url_kwarg`` says otherwise)."""
        instance = self.get_object(**kwargs)
        return self.represent(instance, kwargs), status.HTTP_200_OK


def _save_changes(
    consumer: Any,
    data: Any,
    kwargs: dict[str, Any],
    *,
    partial: bool,
    perform: Callable[..., None],
) -> tuple[Any, int]:
    """update and patch: validate ``data`` against the object, save through ``perform``."""
    instance = consumer.get_object(data=data, **kwargs)
    serializer = consumer.get_serializer(
        instance=instance, data=data, partial=partial, action_kwargs=kwargs
    )
    serializer.is_valid(raise_exception=True)
    perform(serializer, **without(kwargs, "serializer"))
    # A prefetch_related() cache holds the related objects as they were
    # before the update; drop it so the reply shows the new state.
    if getattr(instance, "_prefetched_objects_cache", None):
        instance._prefetched_objects_cache = {}
    return serializer.data, status.HTTP_200_OK


class UpdateModelMixin(_Base):
    @action(atomic=True, method="PUT")
    def update(self, data: Any = None, **kwargs: Any) -> tuple[Any, int]:
        """Replace the object's fields with ``data`` (a full update: required fields required)."""
        return _save_changes(self, data, kwargs, partial=False, perform=self.perform_update)

    def perform_update(self, serializer: BaseSerializer[Any], **kwargs: Any) -> None:
        serializer.save()


class PatchModelMixin(_Base):
    @action(atomic=True, method="PATCH")
    def patch(self, data: Any = None, **kwargs: Any) -> tuple[Any, int]:
        """Change only the fields present in ``data``."""
        return _save_changes(self, data, kwargs, partial=True, perform=self.perform_patch)

    def perform_patch(self, serializer: BaseSerializer[Any], **kwargs: Any) -> None:
        serializer.save()


class DeleteModelMixin(_Base):
    @action(atomic=True, method="DELETE")
    def delete(self, **kwargs: Any) -> tuple[None, int]:
        """Delete the object; 204 with ``data: null``."""
        instance = self.get_object(**kwargs)
        self.perform_delete(instance, **without(kwargs, "instance"))
        return None, status.HTTP_204_NO_CONTENT

    def perform_delete(self, instance: Model, **kwargs: Any) -> None:
        instance.delete()


class PaginatedModelListMixin(ListModelMixin):
    """``list`` in pages: ``{"count", "results", "limit", "offset"}``.

    ``limit`` and ``offset`` are message keys; the paginator is
    ``pagination_class`` (default ``DEFAULT_PAGINATION_CLASS``). With
    ``pagination_class = None`` the reply is a plain list, as ``ListModelMixin``'s.
    """

    @property
    def paginator(self) -> WebsocketLimitOffsetPagination | None:
        """The paginator of this connection (made on first use), or ``None``."""
        paginator: WebsocketLimitOffsetPagination | None = self.__dict__.get("_paginator")
        pagination_class = self.pagination_class
        if paginator is None or type(paginator) is not pagination_class:
            # Rebuilt when the class changes, e.g. under override_settings.
            paginator = pagination_class() if pagination_class is not None else None
            self.__dict__["_paginator"] = paginator
        return paginator

    def paginate_queryset(self, queryset: Any, /, **kwargs: Any) -> list[Any] | None:
        paginator = self.paginator
        if paginator is None:
            return None
        return paginator.paginate_queryset(queryset, self.scope, self, **kwargs)

    def get_paginated_response(self, data: Any) -> Any:
        paginator = self.paginator
        if paginator is None:
            raise TypeError(
                f"{type(self).__qualname__}.get_paginated_response() needs a paginator, but "
                "pagination_class is None: set pagination_class or do not call it."
            )
        return paginator.get_paginated_response(data)

    @action(method="GET")
    def list(self, **kwargs: Any) -> tuple[Any, int]:
        hook_kwargs = without(kwargs, "queryset")
        queryset = self.filter_queryset(self.get_queryset(**hook_kwargs), **hook_kwargs)
        page = self.paginate_queryset(queryset, **hook_kwargs)
        if page is None:
            return self.represent_many(queryset, kwargs), status.HTTP_200_OK
        return self.get_paginated_response(self.represent_many(page, kwargs)), status.HTTP_200_OK


def _request_key(request_id: Any) -> str:
    """A hashable key for any JSON ``request_id`` (objects and lists included)."""
    return json.dumps(request_id, sort_keys=True, default=str)


class StreamedPaginatedListMixin(PaginatedModelListMixin):
    """``list`` as a stream of pages: one reply per page, all with the request's id.

    Every page is ``{"count", "results", "limit", "offset", "last"}`` with
    ``action: "list"``; ``last`` is ``true`` on the final page only. DCRF 1.3
    clients can ignore the key (they compared offsets with the count, which
    still works); new clients need not. The list runs detached, so other
    requests on the stream are answered between pages. ``list_cancel`` with
    the same ``request_id`` stops it: no page is sent after its 200 reply
    (``data: null``), which is sent even when the list has already finished,
    so a cancel is never an error. A second ``list`` with the ``request_id``
    of a running one replaces it.

    Each page is a separate database query, so the pages are not a snapshot:
    rows inserted meanwhile may shift them, as with HTTP pagination. Without a
    page size (no ``PAGE_SIZE``, no ``limit``) the whole list is one page.
    """

    #: Pages need a paginator: without ``DEFAULT_PAGINATION_CLASS`` (None by
    #: default, as in DCRF) streamed lists page by limit and offset.
    pagination_class: Any = SettingDefault(
        "DEFAULT_PAGINATION_CLASS", fallback=WebsocketLimitOffsetPagination
    )

    #: Streamed lists one stream of a socket may run at once; more are 429.
    #: Each holds an action thread per page, and the pool is the process's.
    max_streamed_lists: int | None = 4

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._streamed_lists: dict[str, asyncio.Task[Any]] = {}

    def get_page(self, **kwargs: Any) -> tuple[dict[str, Any], bool]:
        """Build one page (sync, in the database thread) and say if it is the last."""
        hook_kwargs = without(kwargs, "queryset")
        if self.paginator is None:
            raise TypeError(
                f"{type(self).__qualname__} streams pages, so it needs a pagination_class; "
                "set one (e.g. streams.pagination.WebsocketLimitOffsetPagination)."
            )
        # A paginator keeps the page it builds (limit, offset, count) on itself,
        # and several streamed lists of one socket build pages at the same time
        # in different action threads: each page gets its own copy.
        paginator = copy.copy(self.paginator)
        queryset = self.filter_queryset(self.get_queryset(**hook_kwargs), **hook_kwargs)
        page = paginator.paginate_queryset(queryset, self.scope, self, **hook_kwargs)
        serializer = self.get_serializer(instance=page, many=True, action_kwargs=kwargs)
        data = dict(paginator.get_paginated_response(serializer.data))
        return data, paginator.is_last_page()

    @action(detached=True, method="GET")
    async def list(self, **kwargs: Any) -> None:  # type: ignore[override]
        action_name = kwargs.get("action", "list")
        request_id = kwargs.get("request_id")
        key = _request_key(request_id)
        previous = self._streamed_lists.get(key)
        if previous is not None:
            previous.cancel()
        elif self.max_streamed_lists is not None:
            running = sum(1 for task in self._streamed_lists.values() if not task.done())
            if running >= self.max_streamed_lists:
                raise Throttled(
                    detail=f"Too many streamed lists at once (at most {self.max_streamed_lists} "
                    "per stream); cancel one with list_cancel or wait for it to finish."
                )
        task = asyncio.current_task()
        if task is not None:
            self._streamed_lists[key] = task
        try:
            page_kwargs = dict(kwargs)
            while True:
                # In the action pool, like any sync action: a long list must
                # not occupy the process's shared database thread.
                data, last = await run_in_action_thread(
                    functools.partial(self.get_page, **page_kwargs)
                )
                data["last"] = last
                await self.reply(
                    action=action_name, data=data, status=status.HTTP_200_OK, request_id=request_id
                )
                if last:
                    return
                page_kwargs["offset"] = data["offset"] + data["limit"]
        finally:
            if task is not None and self._streamed_lists.get(key) is task:
                del self._streamed_lists[key]

    @action(method="GET")
    async def list_cancel(self, **kwargs: Any) -> tuple[None, int]:
        """Stop the streamed list that has this message's ``request_id``."""
        task = self._streamed_lists.pop(_request_key(kwargs.get("request_id")), None)
        if task is not None:
            task.cancel()
        return None, status.HTTP_200_OK
