"""The characters a guardian may turn off for a minor (CN-MIN-09), as the app that owns them lists them.

guardians does not import companion (STYLE.md §1): companion registers its list here in
`CompanionConfig.ready()`. The provider takes a language code and returns `[(slug, name), ...]`
in display order: the characters a minor could otherwise open.
"""
from collections.abc import Callable

from django.utils.translation import get_language

Provider = Callable[[str], list[tuple[str, str]]]

_provider: Provider | None = None


def register(provider: Provider) -> None:
    """Set the provider; registering again (ready() runs once per process) replaces it."""
    global _provider
    _provider = provider


def characters(language: str | None = None) -> list[tuple[str, str]]:
    """`[(slug, name), ...]` in `language` (default: the current one); empty until a provider registers."""
    return _provider(language or get_language()) if _provider is not None else []
