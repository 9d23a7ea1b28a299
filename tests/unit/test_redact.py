"""Credentials a workload printed are masked in quoted text; ordinary GPU text is left alone."""

from __future__ import annotations

import pytest

from bot.model.redact import MASK, redact, redact_value


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('Get "http://10.0.0.1:8000/health?access_token=tok3n-value": refused', "tok3n-value"),
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "eyJhbGciOi"),
        ("token: Bearer abcdefgh12345", "abcdefgh12345"),
        ("posting with xoxb-123-456-abcdef failed", "xoxb-123-456-abcdef"),
        ("clone https://bot:hunter22@github.com/org/repo", "hunter22"),
        ("AccountKey=abc123def456==;EndpointSuffix=core.windows.net", "abc123def456"),
        ("GET blob?sv=2021&sig=AbCdEf123%3D&se=2026", "AbCdEf123"),
        ("password: 'p@ssw0rd!'", "p@ssw0rd!"),
        ('client_secret="Zq8~abcdefg"', "Zq8~abcdefg"),
        ("HF_TOKEN=hf_abcdefghijklmnop", "hf_abcdefghijklmnop"),
        ("ghp_abcdefghijklmnopqrstuvwx0123 leaked", "ghp_abcdefghijklmnopqrstuvwx0123"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----", "MIIabc"),
    ],
)
def test_credential_shapes_are_masked_keeping_their_label(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked and MASK in masked


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens=4096",
        "KV cache 97% of capacity (vllm:kv_cache_usage_perc)",
        "tokens/s flat at 1200 across 3 replicas",
        "secretName: hf-token",
        "pulled vllm/vllm-openai@sha256:0123456789abcdef0123456789abcdef in 1m52s",
        "pod-template-hash=7b9c6d5f4",
        "Secret objects: never requested by gpubot",
    ],
)
def test_ordinary_diagnosis_text_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_nested_facts_are_masked_and_other_values_kept() -> None:
    facts = {"pods": ["a", "password=hunter22x"], "n": 3, "pair": ("x", "sig=abcdef123")}
    assert redact_value(facts) == {
        "pods": ["a", f"password={MASK}"],
        "n": 3,
        "pair": ("x", f"sig={MASK}"),
    }
