"""The pages' catalogs: every text the templates mark has its Chinese, and no catalog lags."""

import re

from babel.messages.pofile import read_po

from web import i18n

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalog(lang: str):
    with i18n.catalog_path(lang).open("rb") as source:
        return read_po(source, locale=lang)


def test_both_catalogs_hold_exactly_the_templates_texts():
    wanted = {m.id for m in i18n.extract() if m.id}
    for lang in ("zh", "en"):
        held = {m.id for m in _catalog(lang) if m.id}
        assert held == wanted, f"run python -m web.i18n: {lang} differs by {held ^ wanted}"


def test_every_text_has_a_chinese_translation_with_the_same_placeholders():
    for message in _catalog("zh"):
        if not message.id:
            continue
        assert message.string, f"no Chinese for {message.id!r}"
        assert sorted(_PLACEHOLDER.findall(message.string)) == sorted(
            _PLACEHOLDER.findall(message.id)
        ), message.id
        assert not message.fuzzy, message.id


def test_the_compiled_catalog_translates():
    assert i18n.translations("zh").gettext("Package center") == "包裹中心"
    assert i18n.translations("en").gettext("Package center") == "Package center"
