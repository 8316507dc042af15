"""The benchmark Django project, served once per stack with identical settings.

``BENCH_STACK`` picks the stack (``ours``, ``ref`` or ``none`` for the plain
ORM baseline); everything else (models, database contents, serializers for
retrieve, channel layer) is shared so the figures compare like with like.
"""
