"""Button values for fixes: `gpf1.<token>.<mac>`.

The token is 192 random bits naming a row of the fix ledger (which holds its purpose, expiry
and single use); the MAC (HMAC-SHA256 under GPUBOT_FIX_SIGNING_KEY) lets a forged or altered
value be refused before any database read. Values stay far below Slack's 2,000 characters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

PREFIX = "gpf1"


def _mac(key: bytes, token: str) -> str:
    digest = hmac.new(key, token.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class TokenSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the fix signing key must be at least 16 bytes")
        self._key = key

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> TokenSigner:
        """GPUBOT_FIX_SIGNING_KEY; else derived from the Slack signing secret; else per process.

        A per-process key is fine for one replica (buttons die with the process, which the
        ledger's expiry would do anyway) but several replicas must share a configured key.
        """
        env = os.environ if environ is None else environ
        key = env.get("GPUBOT_FIX_SIGNING_KEY")
        if key:
            return cls(key.encode())
        slack = env.get("SLACK_SIGNING_SECRET")
        if slack:
            return cls(hmac.new(slack.encode(), b"gpubot fix buttons", hashlib.sha256).digest())
        return cls(secrets.token_bytes(32))

    def sign(self, token: str) -> str:
        return f"{PREFIX}.{token}.{_mac(self._key, token)}"

    def open(self, value: object) -> str | None:
        """The token inside a value this process's key signed; None for anything else."""
        # Values we sign are ASCII; anything else would make the MAC check itself raise
        # (compare_digest refuses non-ASCII text, encode() a lone surrogate).
        if not isinstance(value, str) or len(value) > 200 or not value.isascii():
            return None
        prefix, _, rest = value.partition(".")
        token, _, mac = rest.rpartition(".")
        if prefix != PREFIX or not token or not mac:
            return None
        if not hmac.compare_digest(mac, _mac(self._key, token)):
            return None
        return token

    def __repr__(self) -> str:  # never print the key
        return "TokenSigner(<key>)"
