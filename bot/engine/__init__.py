"""Orchestration: load playbooks and runbooks, gather evidence, run checks, build findings."""
