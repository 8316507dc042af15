"""The testing kit: gateway/pytest_plugin.py, loaded through its entry point.

The fixtures are used here the way a project uses them (this suite, too,
gets them only from the installed package's ``pytest11`` entry point). What
only a separate pytest run can show (test order, the default
``gateway_application``, strict asyncio mode) runs pytest in a subprocess on a
small project written to a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.contrib.auth import get_user_model

import gateway.pytest_plugin
from gateway import Gateway
from gateway.testing import GatewayClosed, GatewayCommunicator
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action

REPO = Path(__file__).resolve().parents[2]


class WhoAmIConsumer(AsyncAPIConsumer):
    @action()
    async def whoami(self, **kwargs: Any) -> tuple[dict[str, Any], int]:
        user = self.scope["user"]
        return {"username": user.get_username(), "anonymous": user.is_anonymous}, 200

    @action()
    def users(self, **kwargs: Any) -> tuple[int, int]:
        return get_user_model().objects.count(), 200

    @action()
    def ping(self, **kwargs: Any) -> tuple[str, int]:
        return "pong", 200

    @action()
    async def layer(self, **kwargs: Any) -> tuple[dict[str, Any], int]:
        return {"layer": id(self.channel_layer)}, 200


@pytest.fixture
def gateway_application() -> Any:
    return Gateway.as_asgi(streams={"me": WhoAmIConsumer})


def test_the_plugin_is_loaded_through_its_entry_point(request):
    (entry_point,) = [e for e in entry_points(group="pytest11") if e.name == "channels_gateway"]
    assert entry_point.value == "gateway.pytest_plugin"
    assert request.config.pluginmanager.get_plugin("channels_gateway") is gateway.pytest_plugin


async def test_gateway_communicator_is_connected_and_anonymous(gateway_communicator):
    assert isinstance(gateway_communicator, GatewayCommunicator)
    await gateway_communicator.send_to("me", {"action": "whoami", "request_id": 1})
    reply = await gateway_communicator.receive_from("me", request_id=1)
    assert reply["data"] == {"username": "", "anonymous": True}


@pytest.mark.django_db(transaction=True)
async def test_user_gateway_communicator_is_the_gateway_user(user_gateway_communicator):
    await user_gateway_communicator.send_to("me", {"action": "whoami", "request_id": 1})
    reply = await user_gateway_communicator.receive_from("me", request_id=1)
    assert reply["data"] == {"username": "gateway-test-user", "anonymous": False}


async def test_gateway_connect_takes_another_app_and_scope(gateway_connect):
    app = Gateway.as_asgi(streams={"who": WhoAmIConsumer})
    comm = await gateway_connect(app, scope={"path": "/custom/"})
    assert comm.scope["path"] == "/custom/"
    await comm.send_to("who", {"action": "whoami", "request_id": 2})
    assert (await comm.receive_from("who", request_id=2))["response_status"] == 200


async def test_gateway_connect_reports_a_refusal(gateway_connect):
    async def refusing(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 4003})

    with pytest.raises(GatewayClosed, match=r"refused the connection \(close code 4003\)"):
        await gateway_connect(refusing)


async def test_isolated_channel_layer_is_the_default_layer(
    isolated_channel_layer, gateway_communicator
):
    settings_layer_backend = isolated_channel_layer
    assert get_channel_layer() is settings_layer_backend
    assert isinstance(settings_layer_backend, InMemoryChannelLayer)
    await gateway_communicator.send_to("me", {"action": "layer", "request_id": 1})
    reply = await gateway_communicator.receive_from("me", request_id=1)
    assert reply["data"]["layer"] == id(isolated_channel_layer)


# ------------------------------------------------------------------ a separate run
# Plain GatewayCommunicators, so the same file also runs without the plugin.
PROJECT_TESTS = """
import pytest
from channels.layers import channel_layers, get_channel_layer

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from tests.gateway.test_pytest_plugin import WhoAmIConsumer

APP = Gateway.as_asgi(streams={"me": WhoAmIConsumer})


async def call(action):
    async with GatewayCommunicator(APP) as comm:
        await comm.send_to("me", {"action": action, "request_id": 1})
        return (await comm.receive_from("me", request_id=1))["data"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_1_sync_action_with_the_database():
    assert await call("users") == 0


@pytest.mark.asyncio
async def test_2_sync_action_without_database_access():
    assert await call("ping") == "pong"
"""

LAYER_TESTS = """
from channels.layers import channel_layers, get_channel_layer

BEFORE = []


def test_1_layer_is_replaced(isolated_channel_layer):
    assert get_channel_layer() is isolated_channel_layer


def test_0_remember(settings):
    BEFORE.append(get_channel_layer())


def test_2_layer_is_put_back():
    assert get_channel_layer() is BEFORE[0]
"""

MISSING_APPLICATION = """
import pytest


@pytest.mark.asyncio
async def test_without_gateway_application(gateway_communicator):
    pass
"""


def run_project(
    tmp_path: Path, files: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``files`` as a project would: strict asyncio mode, no ini file."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(REPO)}
    # The small project is about the plugin and SQLite's in-memory database
    # (the control run's failure is SQLite's), whichever stack runs this suite.
    env["CG_TEST_STACK"] = "fast"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull]
    command += ["--rootdir", str(tmp_path), "-o", "asyncio_mode=strict", *args, str(tmp_path)]
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_test_order_does_not_matter_with_the_plugin(tmp_path):
    result = run_project(tmp_path, {"test_order.py": PROJECT_TESTS, "test_layer.py": LAYER_TESTS})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


@pytest.mark.slow
def test_without_the_plugin_the_same_order_fails(tmp_path):
    # The control: the autouse clean-up is what makes the order irrelevant.
    result = run_project(tmp_path, {"test_order.py": PROJECT_TESTS}, "-p", "no:channels_gateway")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    # The action thread's stale connection makes the sync action fail.
    assert "FAILED test_order.py::test_2_sync_action_without_database_access" in result.stdout


@pytest.mark.slow
def test_a_missing_gateway_application_says_what_to_define(tmp_path):
    result = run_project(tmp_path, {"test_missing.py": MISSING_APPLICATION})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "define a `gateway_application` fixture" in result.stdout
