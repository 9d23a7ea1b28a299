"""Button values: only what this key signed opens; anything else is refused, never an error."""

from __future__ import annotations

import pytest

from bot.engine.tokens import TokenSigner

SIGNER = TokenSigner(b"unit-test-key-0123456789")


def test_a_signed_value_opens_to_its_token_and_an_edited_one_does_not() -> None:
    value = SIGNER.sign("tok-123_ABC")
    assert SIGNER.open(value) == "tok-123_ABC"
    assert SIGNER.open(value[:-1] + ("A" if value[-1] != "A" else "B")) is None
    assert TokenSigner(b"another-key-0123456789").open(value) is None


# Found by fuzz/tokens.py: a non-ASCII MAC made hmac.compare_digest raise TypeError, and a lone
# surrogate in the token made the MAC's encode() raise UnicodeEncodeError, so a crafted button
# value crashed the guard instead of being refused and audited.
@pytest.mark.parametrize(
    "value",
    [
        "gpf1.tok.\xdf",
        "gpf1.\ud800.abc",
        "gpf1.tok.\ud800",
        SIGNER.sign("tok") + "\xe9",
        "gpf1.t\xe9k." + SIGNER.sign("tok").rsplit(".", 1)[1],
    ],
)
def test_non_ascii_values_are_refused_not_raised(value: str) -> None:
    assert SIGNER.open(value) is None
