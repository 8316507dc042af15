"""Stopping tasks that must stop, even when a cancellation gets lost.

The helpers live in :mod:`gateway.cancellation` (the gateway needs them for
its streams, and ``gateway`` never imports ``streams``); this module keeps the
names streams code and users import.
"""

from __future__ import annotations

from gateway.cancellation import RECANCEL_INTERVAL, cancel_and_wait, cancel_requested

__all__ = ["RECANCEL_INTERVAL", "cancel_and_wait", "cancel_requested"]
