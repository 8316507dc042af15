"""API documentation for a gateway: its AsyncAPI 3.0 document and a browsable page.

- :func:`apidocs.document.build_document` turns a gateway's route table into
  an AsyncAPI 3.0 document (a dict ready for JSON);
- :mod:`apidocs.views` serves it (``AsyncAPIView``) and the browsable
  gateway page (``BrowseView``); :func:`apidocs.urls.gateway_urls` mounts both
  with one URL pattern;
- ``python manage.py asyncapi --gateway dotted.path`` prints it.

Add ``"apidocs"`` to ``INSTALLED_APPS`` for the command, the template and the
static files. User guide: ``docs/ASYNCAPI.md``.

It depends on ``streams``, ``gateway`` and ``hypermedia`` (it describes all
three); none of them imports it.
"""
