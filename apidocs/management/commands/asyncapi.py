"""``manage.py asyncapi --gateway dotted.path``: print the AsyncAPI document."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

from apidocs.document import build_document


class Command(BaseCommand):
    help = "Print the AsyncAPI 3.0 document of a gateway's streams (JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--gateway",
            required=True,
            help="Dotted path of the Gateway subclass, e.g. myproject.routing.MyGateway.",
        )
        parser.add_argument("--host", default="localhost:8000", help="Server host[:port].")
        parser.add_argument("--path", default="/ws/", help="Websocket path of the gateway.")
        parser.add_argument("--protocol", default="ws", choices=("ws", "wss"))
        parser.add_argument("--title", default=None, help="info.title of the document.")
        parser.add_argument("--doc-version", default="1.0.0", help="info.version (your API's).")
        parser.add_argument("--indent", type=int, default=2, help="JSON indent (0: compact).")
        parser.add_argument("--output", "-o", default=None, help="Write to a file, not stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        dotted = options["gateway"]
        try:
            gateway = import_string(dotted)
        except ImportError as exc:
            raise CommandError(
                f"Cannot import the gateway {dotted!r}: {exc}. Give the dotted path of a "
                "Gateway subclass, e.g. --gateway myproject.routing.MyGateway."
            ) from exc
        try:
            document = build_document(
                gateway,
                title=options["title"],
                version=options["doc_version"],
                host=options["host"],
                pathname=options["path"],
                protocol=options["protocol"],
            )
        except TypeError as exc:
            raise CommandError(str(exc)) from exc
        indent = options["indent"] or None
        text = json.dumps(document, indent=indent, ensure_ascii=False)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as file:
                file.write(text + "\n")
        else:
            self.stdout.write(text)
