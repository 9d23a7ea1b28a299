"""Playbook tests in the manner of `promtool test rules`: data in, expected verdicts out."""
