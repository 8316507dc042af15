"""The consumer the graceful-shutdown tests drain: in process (tests/gateway/test_shutdown.py)
and in the uvicorn servers of tests/integration/ops_asgi.py."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.consumers import AsyncAPIConsumer
from streams.decorators import action


class SlowConsumer(AsyncAPIConsumer):
    """An action that takes as long as it is told (a request in flight), and a group join."""

    @action()
    async def wait(self, seconds: float, **kwargs: Any) -> tuple[dict[str, Any], int]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}, 200

    @action()
    async def join(self, group: str, **kwargs: Any) -> tuple[None, int]:
        await self.add_group(group)
        return None, 200
