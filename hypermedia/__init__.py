"""Hypermedia: serializers whose output links to the streams of the connection.

``hypermedia.serializers.HypermediaModelSerializer`` and the fields of
``hypermedia.fields`` turn relations into links
``{"stream": S, "payload": {"action": A, **lookups}}`` that a client sends back
to fetch the resource; :func:`follow` does that for Python clients and tests.
The module names follow hypermediachannels so its users migrate by changing
the import prefix. See ``docs/HYPERMEDIA.md``.
"""

from hypermedia.browsing import follow

__all__ = ["follow"]
