"""Plain data: verdicts, evidence, findings, playbook specs and domain tables. No I/O."""
