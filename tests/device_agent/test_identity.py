"""Claim codes: whatever an owner types, parsing gives the one canonical code or an
InvalidClaimCode that says why, and every spelling of a code finds the same digest."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.identity import claim_code_digest
from device_agent.identity import (
    CLAIM_CODE_ALPHABET,
    CLAIM_CODE_BITS,
    CLAIM_CODE_LENGTH,
    InvalidClaimCode,
    format_claim_code,
    new_claim_code,
    new_device_secret,
    normalise_claim_code,
)

canonical_codes = st.text(
    alphabet=CLAIM_CODE_ALPHABET, min_size=CLAIM_CODE_LENGTH, max_size=CLAIM_CODE_LENGTH
)
separators = st.text(alphabet=" -\t_.", max_size=2)


@st.composite
def typed_variants(draw: st.DrawFn) -> tuple[str, str]:
    """A canonical code and a way a person might type it: any case, separators anywhere."""
    code = draw(canonical_codes)
    typed = draw(separators)
    for char in code:
        typed += (char.lower() if draw(st.booleans()) else char) + draw(separators)
    return code, typed


def test_codes_are_typable_and_carry_enough_entropy() -> None:
    assert CLAIM_CODE_BITS >= 60
    assert not set("0O1IL") & set(CLAIM_CODE_ALPHABET)
    code = new_claim_code()
    assert len(code) == 19
    assert [len(group) for group in code.split("-")] == [4, 4, 4, 4]
    assert normalise_claim_code(code) == code.replace("-", "")
    assert new_claim_code(random.Random(1)) == new_claim_code(random.Random(1))
    assert len(new_device_secret()) >= 43


@given(typed_variants())
def test_every_spelling_of_a_code_normalises_to_the_same_digest(variant: tuple[str, str]) -> None:
    code, typed = variant
    assert normalise_claim_code(typed) == code
    assert claim_code_digest(typed) == claim_code_digest(format_claim_code(code))


@given(st.text(max_size=80))
def test_any_text_parses_to_a_code_or_a_clear_error(text: str) -> None:
    error: InvalidClaimCode | None = None
    try:
        code = normalise_claim_code(text)
    except InvalidClaimCode as exc:
        error = exc
    if error is not None:
        assert "claim code" in str(error)
    else:
        assert len(code) == CLAIM_CODE_LENGTH
        assert set(code) <= set(CLAIM_CODE_ALPHABET)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("ABCD-EFGH-JKMN-PQR", "got 15"),
        ("ABCD-EFGH-JKMN-PQRST", "got 17"),
        ("ABCD-EFGH-JKMN-PQR0", "'0'"),
        ("abcd-efgh-jkmn-pqrl", "'l'"),
        ("", "got 0"),
        ("A" * 100, "got 100 characters"),
        ("ABCD-EFGH-JKMN-PQßS", "'ß'"),
    ],
)
def test_malformed_codes_say_what_is_wrong(typed: str, reason: str) -> None:
    with pytest.raises(InvalidClaimCode, match=reason):
        normalise_claim_code(typed)
