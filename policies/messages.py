"""Messages for people, in English and Chinese, and choosing between them.

Partners' developers read English or Chinese; customers of a Chinese bank read Chinese. Every
message the gateway shows a person is a `Text` with both, so a Chinese reader gets a whole
Chinese message rather than a Chinese title over English detail. `negotiate` picks the language
from `Accept-Language` with its quality values (RFC 9110 §12.5.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Language = Literal["en", "zh-CN"]
DEFAULT_LANGUAGE: Language = "en"


@dataclass(frozen=True, slots=True)
class Text:
    """One message in English (`en`) and Chinese (`zh`)."""

    en: str
    zh: str

    def __str__(self) -> str:
        return self.en

    def __call__(self, language: Language) -> str:
        return self.zh if language == "zh-CN" else self.en

    def format(self, **values: object) -> Text:
        """Both languages with `{name}` placeholders filled in."""
        return Text(self.en.format(**values), self.zh.format(**values))


def negotiate(accept_language: str | None) -> Language:
    """The language `Accept-Language` ranks highest among ours; English when none is asked for.

    `zh`, `zh-CN`, `zh-Hans` and other Chinese tags select Chinese; `*` selects the default.
    Among equal weights the first listed wins; `q=0` refuses a language.
    """
    if not accept_language:
        return DEFAULT_LANGUAGE
    best: Language | None = None
    best_weight = 0.0
    for item in accept_language.split(",")[:32]:
        tag, _, params = item.strip().partition(";")
        tag = tag.strip().lower()
        weight = _weight(params)
        if weight <= best_weight:
            continue
        if tag == "zh" or tag.startswith("zh-"):
            best, best_weight = "zh-CN", weight
        elif tag == "en" or tag.startswith("en-") or tag == "*":
            best, best_weight = "en", weight
    return best or DEFAULT_LANGUAGE


def _weight(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                return 0.0
            return weight if 0.0 <= weight <= 1.0 else 0.0
    return 1.0
