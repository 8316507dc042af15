"""DRF-style consumers for Django Channels.

Public names and message shapes follow djangochannelsrestframework 1.x, so a
project migrates by replacing the import prefix ``djangochannelsrestframework``
with ``streams``.
"""

__all__: list[str] = []
