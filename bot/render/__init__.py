"""Renderers: JSON (the DESIGN.md contract), terminal text, Slack Block Kit."""
