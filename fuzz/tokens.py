"""Fuzz the signed fix-button values of bot/engine/tokens.py.

For any string, `TokenSigner.open` either refuses it (None) or returns a token whose signed
value is exactly that string: it never raises and never accepts a value its key did not sign.
Random strings almost never carry a valid MAC, so the fuzzer also mutates real signed values
(one edit at a fuzzer-chosen place) and offers values signed under another key.

    python fuzz/tokens.py [libFuzzer args] [corpus dirs]
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["bot"]):  # coverage of our code only
    from bot.engine.tokens import TokenSigner

KEY = b"fuzz-key-0123456789abcdef"
SIGNER = TokenSigner(KEY)
OTHER = TokenSigner(b"another-key-0123456789abcdef")


def check_opened(signer: TokenSigner, value: object) -> None:
    token = signer.open(value)  # any exception here is a finding
    if token is not None:
        assert signer.sign(token) == value, f"accepted {value!r}, which it did not sign"


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    token = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 80))  # may hold lone surrogates
    mode = fdp.ConsumeIntInRange(0, 3)
    if mode == 0:  # an arbitrary string, maybe with our prefix
        value = ("gpf1." if fdp.ConsumeBool() else "") + fdp.ConsumeUnicode(250)
        check_opened(SIGNER, value)
        return
    try:
        signed = SIGNER.sign(token)
    except UnicodeEncodeError:
        return  # a token we would never mint (they are URL-safe base64); signing may refuse it
    if mode == 1:  # what we signed opens to its token: minted tokens are short URL-safe ASCII
        opened = SIGNER.open(signed)
        assert opened in (token, None), (token, signed, opened)
        if token and token.isascii() and len(signed) <= 200:
            assert opened == token, f"refused its own {signed!r}"
        assert OTHER.open(signed) is None, "a value signed under another key was accepted"
    else:  # one edit: replace, insert or delete a character
        at = fdp.ConsumeIntInRange(0, len(signed))
        char = fdp.ConsumeUnicode(1)
        cut = at + (1 if mode == 2 else 0)
        edited = signed[:at] + char + signed[cut:]
        check_opened(SIGNER, edited)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
