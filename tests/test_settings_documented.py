"""Every setting has a line of help and is documented in docs/settings.md."""

from pathlib import Path

from paperboy.config import Settings, settings_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_has_help():
    assert [name for name, field in Settings.model_fields.items() if not (field.description or "").strip()] == []


def test_every_setting_is_documented_with_its_default():
    doc = DOC.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`PAPERBOY_{name.upper()}`" in doc, name
    assert settings_markdown() in doc, (
        "docs/settings.md is out of date: regenerate its table with "
        ".venv/bin/python -c 'from paperboy.config import settings_markdown; print(settings_markdown())'")
