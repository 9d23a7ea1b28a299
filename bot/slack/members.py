"""Who is in a Slack user group, for the fix guard's who-may rules (`fixes.allow` / `approvers`).

Asked at click time through the bot's WebClient (`usergroups.users.list`, needs
`usergroups:read`) and cached per group for `fixes.group_cache_seconds`, so a burst of clicks
costs one call. A failed call answers "no members": the click is refused, never allowed by
accident, and the failure is not cached so the next click asks again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("gpubot.slack.members")


class SlackGroupMembers:
    """A `bot.model.fixpolicy.MemberLookup`: group id -> member user ids."""

    def __init__(
        self,
        client: WebClient,
        *,
        ttl_seconds: float = 120,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.ttl_seconds, self.clock = client, ttl_seconds, clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, group: str) -> frozenset[str]:
        now = self.clock()
        with self._lock:
            cached = self._cache.get(group)
        if cached is not None and now < cached[0]:
            return cached[1]
        members = self._fetch(group)
        if members is None:
            return frozenset()
        with self._lock:
            self._cache[group] = (now + self.ttl_seconds, members)
        return members

    def _fetch(self, group: str) -> frozenset[str] | None:
        try:
            response = self.client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:  # plan_upgrade_required, missing_scope, no_such_subteam...
            log.warning(
                "usergroups.users.list %s failed: %s; its members are denied",
                group,
                exc.response.get("error"),
            )
            return None
        except Exception as exc:  # a timeout or a broken body must deny, never crash a click
            log.warning(
                "usergroups.users.list %s failed: %s; its members are denied",
                group,
                type(exc).__name__,
            )
            return None
        users = response.get("users")
        if not isinstance(users, list):
            log.warning("usergroups.users.list %s answered without a user list", group)
            return None
        return frozenset(str(u) for u in users)
