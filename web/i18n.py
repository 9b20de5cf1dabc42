"""The pages' words in Chinese (the default) and English, from gettext catalogs (Babel).

Texts are written in English in the templates; `web/locale/<lang>/LC_MESSAGES/messages.po`
holds each language's translations. The catalogs are compiled in memory when the server
starts, so a fresh clone needs no build step and no compiled file can fall behind its
source. `python -m web.i18n` extracts the texts and updates both catalogs
(`tests/unit/test_web_catalogs.py` fails while a text has no Chinese translation).
"""

import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE = Path(__file__).parent / "locale"
TEMPLATES = Path(__file__).parent / "templates"
DOMAIN = "messages"


def catalog_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def translations(lang: str) -> gettext.GNUTranslations:
    with catalog_path(lang).open("rb") as source:
        catalog = read_po(source, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def extract():
    """Every text the templates mark for translation, as a Babel catalog."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="intercept", domain=DOMAIN)
    method_map = [("**.html", "jinja2")]
    options = {"**.html": {"extensions": "jinja2.ext.i18n,jinja2.ext.do", "trimmed": "true"}}
    for filename, lineno, message, comments, context in extract_from_dir(
        TEMPLATES, method_map, options
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def update() -> None:
    """Bring both catalogs up to the templates' texts, keeping the translations made."""
    from babel.messages.pofile import write_po

    template = extract()
    for lang in ("zh", "en"):
        path = catalog_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as source:
                catalog = read_po(source, locale=lang)
        else:
            from babel.messages.catalog import Catalog

            catalog = Catalog(locale=lang, project="intercept", domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as out:
            write_po(out, catalog, omit_header=False, sort_output=True, width=100)


if __name__ == "__main__":
    update()
    print(f"updated the catalogs under {LOCALE}")
