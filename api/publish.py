"""`python -m api.publish [PATH]`: write the OpenAPI document the app serves to schemas/openapi.json.

Apart from api/openapi.py so that the app can use the document's maker without the
maker's module importing the app back.
"""

import sys
from pathlib import Path

from api.app import create_app
from api.openapi import PUBLISHED, render


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PUBLISHED
    target.write_bytes(render(create_app().openapi()))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
