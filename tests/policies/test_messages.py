"""Choosing the language of messages from Accept-Language."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.messages import Text, negotiate


class TestNegotiate:
    @pytest.mark.parametrize(
        ("header", "language"),
        [
            (None, "en"),
            ("", "en"),
            ("zh-CN", "zh-CN"),
            ("zh", "zh-CN"),
            ("zh-Hans-CN,zh;q=0.9", "zh-CN"),
            ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
            ("en;q=0.5, zh-CN;q=0.8", "zh-CN"),
            ("zh-CN;q=0, en;q=0.1", "en"),
            ("fr-FR, de;q=0.9", "en"),
            ("fr, zh;q=0.3", "zh-CN"),
            ("*;q=0.9, zh;q=0.5", "en"),
            ("zh;q=abc", "en"),
            ("zh;q=2", "en"),
        ],
    )
    def test_quality_values_decide(self, header: str | None, language: str) -> None:
        """The highest-weighted language we speak wins; q=0 and bad weights refuse a tag."""
        assert negotiate(header) == language

    @given(st.text(max_size=200))
    def test_any_header_gives_a_language(self, header: str) -> None:
        """Whatever a client sends, one of our two languages comes back."""
        assert negotiate(header) in ("en", "zh-CN")


class TestText:
    def test_format_fills_both_languages(self) -> None:
        """Placeholders are filled in English and Chinese alike."""
        text = Text("retry after {s} s", "请 {s} 秒后重试").format(s=5)
        assert (text("en"), text("zh-CN"), str(text)) == (
            "retry after 5 s",
            "请 5 秒后重试",
            "retry after 5 s",
        )
