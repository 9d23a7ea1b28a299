"""Slack: the `/gpu` command, alert triage in incident channels, the morning post.

The only package that imports slack_bolt. It acks first and hands every diagnosis to a
bounded pool, so a burst of commands never starves Bolt's own listener threads.
"""
