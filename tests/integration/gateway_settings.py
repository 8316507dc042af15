"""Settings for the gateway's Redis integration servers.

Minimal on purpose (no database, no other app), so the test depends on the
gateway and channels_redis only. The channel-layer prefix comes from the
environment: each test run uses its own, so runs never see each other's groups.
"""

import os

from tests.stacks import redis_channel_layer

SECRET_KEY = "gateway-integration-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
DATABASES: dict = {}
CHANNEL_LAYERS = {
    "default": redis_channel_layer(os.environ.get("GATEWAY_TEST_LAYER_PREFIX", "gateway-test"))
}
