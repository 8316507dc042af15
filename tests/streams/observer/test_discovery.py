"""Observers are registered by ``ready()`` in every process, not by chance imports."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.test import override_settings

from streams.observer.discovery import autodiscover


def test_listed_modules_are_imported():
    sys.modules.pop("tests.streams.observer.support", None)
    with override_settings(
        CHANNELS_GATEWAY={"OBSERVER_MODULES": ["tests.streams.observer.support"]}
    ):
        autodiscover()
    assert "tests.streams.observer.support" in sys.modules


def test_bad_setting_names_the_fix():
    with (
        override_settings(CHANNELS_GATEWAY={"OBSERVER_MODULES": [42]}),
        pytest.raises(TypeError, match="dotted module paths"),
    ):
        autodiscover()


def test_a_fresh_process_registers_observers_from_settings_alone():
    """django.setup() alone (no consumer import) connects the observers."""
    code = (
        "import django, sys\n"
        "from django.conf import settings\n"
        "settings.configure(**{k: getattr(__import__('tests.settings', fromlist=['x']), k) "
        "for k in ['INSTALLED_APPS', 'DATABASES', 'CHANNEL_LAYERS', 'SECRET_KEY', 'USE_TZ', "
        "'DEFAULT_AUTO_FIELD']}, CHANNELS_GATEWAY={'OBSERVER_MODULES': "
        "['tests.streams.observer.support']})\n"
        "django.setup()\n"
        "from streams.observer.registry import registry\n"
        "from tests.testapp.models_observer import ObsItem\n"
        "print(len(registry.observers_for(ObsItem)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) >= 2  # ItemConsumer's instance and list observers
