"""Masking of personal data (DESIGN §7): what is kept, what is hidden, and short inputs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policies.masking import mask_account_number, mask_id_number, mask_mobile, mask_name

DIGITS = "0123456789"
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
LATIN = st.characters(min_codepoint=ord("a"), max_codepoint=ord("z"))


def assert_kept(masked: str, original: str, start: int, end: int) -> None:
    """`masked` keeps `start` leading and `end` trailing characters and stars the rest."""
    assert len(masked) == len(original)
    assert masked[:start] == original[:start]
    assert masked[len(masked) - end :] == original[len(original) - end :]
    hidden = masked[start : len(masked) - end]
    assert hidden
    assert set(hidden) == {"*"}


class TestMaskAccountNumber:
    @given(st.text(alphabet=DIGITS, min_size=11, max_size=32))
    def test_keeps_first_six_and_last_four(self, number: str) -> None:
        """Card/account numbers keep the first 6 and last 4 digits, same length."""
        assert_kept(mask_account_number(number), number, 6, 4)

    @given(st.text(alphabet=DIGITS, max_size=10))
    def test_short_numbers_are_fully_masked(self, number: str) -> None:
        """A number of 10 digits or fewer would be revealed whole: it is fully masked."""
        assert mask_account_number(number) == "*" * len(number)

    def test_example(self) -> None:
        """A 19-digit card number shows as 622202*********1234."""
        assert mask_account_number("6222021234567891234") == "622202*********1234"


class TestMaskIdNumber:
    @given(
        st.text(alphabet=DIGITS, min_size=17, max_size=17),
        st.sampled_from([*DIGITS, "X"]),
    )
    def test_mainland_id_keeps_three_and_four(self, body: str, check: str) -> None:
        """An 18-character mainland ID keeps the first 3 and last 4 characters."""
        number = body + check
        masked = mask_id_number(number)
        assert_kept(masked, number, 3, 4)
        assert masked.count("*") == 11

    @given(st.text(alphabet=[*DIGITS, "X"], min_size=8, max_size=24))
    def test_any_long_id_keeps_three_and_four(self, number: str) -> None:
        """Any ID longer than 7 characters keeps 3 and 4, hiding the rest."""
        assert_kept(mask_id_number(number), number, 3, 4)

    @given(st.text(alphabet=[*DIGITS, "X"], max_size=7))
    def test_short_ids_are_fully_masked(self, number: str) -> None:
        """An ID of 7 characters or fewer is fully masked."""
        assert mask_id_number(number) == "*" * len(number)


class TestMaskMobile:
    @given(st.sampled_from("3456789"), st.text(alphabet=DIGITS, min_size=9, max_size=9))
    def test_mainland_mobile_keeps_three_and_four(self, second: str, rest: str) -> None:
        """An 11-digit mobile keeps the first 3 and last 4 digits: 138****5678."""
        number = "1" + second + rest
        masked = mask_mobile(number)
        assert_kept(masked, number, 3, 4)
        assert masked[3:7] == "****"

    @given(st.text(alphabet=DIGITS, max_size=7))
    def test_short_numbers_are_fully_masked(self, number: str) -> None:
        """A number of 7 digits or fewer is fully masked."""
        assert mask_mobile(number) == "*" * len(number)


class TestMaskName:
    @given(
        family=st.text(CJK, min_size=1, max_size=2),
        given_name=st.text(CJK, min_size=1, max_size=3),
    )
    def test_chinese_name_keeps_family_name_only(self, family: str, given_name: str) -> None:
        """With the family name known, only it is kept; the given name becomes stars."""
        masked = mask_name(family + given_name, family)
        assert masked == family + "*" * len(given_name)

    @given(
        family=st.text(LATIN, min_size=2, max_size=10).map(str.capitalize),
        given_name=st.text(LATIN, min_size=2, max_size=10).map(str.capitalize),
    )
    def test_western_order_keeps_family_name_only(self, family: str, given_name: str) -> None:
        """A given-name-first name shows only the family name: no given-name letters leak."""
        full_name = f"{given_name} {family}"
        masked = mask_name(full_name, family)
        assert masked == family + "*" * (len(full_name) - len(family))

    @given(st.text(CJK, min_size=2, max_size=4))
    def test_without_family_name_keeps_first_character(self, full_name: str) -> None:
        """Without a known family name, a Chinese name keeps its first character (the surname)."""
        masked = mask_name(full_name)
        assert masked == full_name[0] + "*" * (len(full_name) - 1)

    def test_examples(self) -> None:
        """张伟 → 张*, 欧阳娜娜 with family 欧阳 → 欧阳**."""
        assert mask_name("张伟") == "张*"
        assert mask_name("欧阳娜娜", "欧阳") == "欧阳**"

    @given(st.text(CJK, min_size=1, max_size=4))
    def test_something_is_always_hidden(self, full_name: str) -> None:
        """The masked name always contains at least one star, so it never equals the name."""
        masked = mask_name(full_name)
        assert "*" in masked
        assert masked != full_name
