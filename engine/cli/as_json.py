"""Printing results for machines (--json): one JSON document on stdout.

Apart from the people's output (engine/cli/output.py, rich): the entry point answers a
usage error in JSON without loading a console.
"""

import sys
from typing import Any

import orjson


def emit_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
