"""Post a diagnosis: one progress message updated in place, then the summary and thread details.

When the progress message cannot be updated into the summary, the summary is posted as a new
message instead: an answer in the wrong place beats a "⏳" that never ends."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.model.verdicts import Diagnosis, Finding
from bot.render import slack as slack_render

log = logging.getLogger("gpubot.slack")
PROGRESS_EVERY_S = 1.5
_SLACK_CODE = re.compile(r"[a-z_]{1,64}")  # Slack's error codes: invalid_blocks, ratelimited


class Tracker(Protocol):
    """The durable job behind a delivery (bot/slack/jobs.py)."""

    def posted(self, channel: str, ts: str) -> None:
        """The progress message exists at (channel, ts)."""

    def may_deliver(self) -> bool:
        """False when this process no longer owns the job: another replica delivers it."""

    def replies_done(self) -> int:
        """How many detail replies of the summary at the last `posted` ts are already in the
        thread: a run that died while posting them left these, and a resume skips them."""

    def replied(self, count: int) -> None:
        """The first `count` detail replies of the summary are in the thread."""


class TakenOver(Exception):
    """The job was taken over by another replica before the summary; nothing was posted."""


class Progress:
    """Updates the progress message as rows finish, at most every PROGRESS_EVERY_S seconds."""

    def __init__(self, client: WebClient, channel: str, ts: str, title: str, total: int) -> None:
        self.client, self.channel, self.ts, self.title, self.total = (
            client,
            channel,
            ts,
            title,
            total,
        )
        self.done, self.confirmed = 0, 0
        self._last = 0.0
        self._gave_up = False  # one failed update (after the client's retries) ends progress
        self._lock = threading.Lock()

    def text(self) -> str:
        found = f" · {self.confirmed} confirmed so far" if self.confirmed else ""
        return f":hourglass_flowing_sand: {self.title} [{self.done}/{self.total} checks]{found}"

    def advance(self, finding: Finding) -> None:
        with self._lock:
            self.done += 1
            self.confirmed += finding.verdict == "confirmed"
            now = time.monotonic()
            if self._gave_up:
                return
            if now - self._last < PROGRESS_EVERY_S and self.done < self.total:
                return
            self._last = now
            text = self.text()
        try:
            self.client.chat_update(channel=self.channel, ts=self.ts, text=text)
        except SlackApiError as exc:  # progress is best effort; the result is what matters
            self._gave_up = True
            log.warning("progress update failed: %s", exc.response.get("error"))
        except Exception as exc:  # a timeout or a broken body must not stop the diagnosis
            self._gave_up = True
            log.warning("progress update failed: %s", type(exc).__name__)


def deliver(
    client: WebClient,
    *,
    channel: str,
    title: str,
    total: int,
    run: Callable[[Callable[[Finding], None]], Diagnosis],
    thread_ts: str | None = None,
    decorate: Callable[[list[dict[str, Any]], Diagnosis], list[dict[str, Any]]] | None = None,
    trigger: str = "slash",
    progress_ts: str | None = None,
    tracker: Tracker | None = None,
) -> tuple[str, Diagnosis]:
    """Post progress, run the diagnosis, replace progress with the summary, thread the details.

    `progress_ts`: a progress message already posted (a diagnosis resumed after a restart) is
    updated in place rather than posting a second one. Returns the ts of the summary message
    (the thread parent) and the diagnosis.
    """
    channel, ts = _progress_message(client, channel, thread_ts, progress_ts, title, total)
    if tracker is not None:
        tracker.posted(channel, ts)
    progress = Progress(client, channel, ts, title, total)
    started = time.monotonic()
    try:
        diagnosis = run(progress.advance)
    except Exception:
        metrics.DIAGNOSES.labels(trigger, "error").inc()
        raise
    metrics.DURATION.labels(trigger).observe(time.monotonic() - started)
    outcome = "confirmed" if any(f.verdict == "confirmed" for f in diagnosis.findings) else "clear"
    metrics.DIAGNOSES.labels(trigger, outcome).inc()
    for f in diagnosis.findings:
        metrics.FINDINGS.labels(f.playbook, str(f.verdict)).inc()
    messages = slack_render.render_messages(diagnosis)
    if decorate is not None:
        messages = decorate(messages, diagnosis)
    if tracker is not None and not tracker.may_deliver():
        raise TakenOver(title)
    head, *rest = messages
    try:
        client.chat_update(channel=channel, ts=ts, text=head["text"], blocks=head["blocks"])
        summary_ts = ts
    except Exception as exc:  # the answer matters more than where it lands: post it anew
        summary_ts = _post_summary_anew(
            client, channel, thread_ts, ts, head, title, failure_reason(exc)
        )
        if tracker is not None:
            tracker.posted(channel, summary_ts)  # a resume updates the summary that stands
    done = tracker.replies_done() if tracker is not None else 0
    post_thread(
        client,
        channel=channel,
        parent=thread_ts or summary_ts,
        messages=rest,
        skip=done,
        on_posted=tracker.replied if tracker is not None else None,
    )
    return summary_ts, diagnosis


def _post_summary_anew(
    client: WebClient,
    channel: str,
    thread_ts: str | None,
    stale_ts: str,
    head: dict[str, Any],
    title: str,
    why: str,
) -> str:
    """The summary could not replace the progress message (deleted, not editable, too long
    for an edit, Slack failing): post it as a new message instead, in the same thread, and
    turn the stale "⏳" message into a pointer. Raises only if the new post fails too."""
    metrics.SUMMARY_FALLBACKS.labels(why).inc()
    log.warning(
        "summary update of %s failed (%s); posting the summary as a new message", stale_ts, why
    )
    try:
        posted = client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=head["text"], blocks=head["blocks"]
        )
    except Exception as exc:
        log.warning("the summary could not be posted anew either: %s", failure_reason(exc))
        raise
    if why != "message_not_found":  # a deleted message needs no pointer
        _point_to_summary(client, channel, stale_ts, title)
    return str(posted["ts"])


def _point_to_summary(client: WebClient, channel: str, stale_ts: str, title: str) -> None:
    """Best effort: a one-line pointer in place of the stale progress message, else delete it,
    so nobody waits on "⏳ [n/N checks]" forever."""
    pointer = f":arrow_down: {title}: the result is posted below, as a new message."
    try:  # `blocks=[]` clears a summary that a timed-out update did put there after all
        client.chat_update(channel=channel, ts=stale_ts, text=pointer, blocks=[])
        return
    except Exception as exc:
        log.warning("could not turn the progress message into a pointer: %s", failure_reason(exc))
    try:
        client.chat_delete(channel=channel, ts=stale_ts)
    except Exception as exc:  # it stays at "⏳"; the summary below is what counts
        log.warning("could not delete the stale progress message: %s", failure_reason(exc))


def _progress_message(
    client: WebClient,
    channel: str,
    thread_ts: str | None,
    progress_ts: str | None,
    title: str,
    total: int,
) -> tuple[str, str]:
    text = f":hourglass_flowing_sand: {title} [0/{total} checks]"
    if progress_ts is not None:
        try:
            client.chat_update(channel=channel, ts=progress_ts, text=text)
            return channel, progress_ts
        except SlackApiError as exc:  # deleted meanwhile, say: post a new one
            log.warning("progress message gone (%s); posting anew", exc.response.get("error"))
    first = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
    return str(first.get("channel") or channel), str(first["ts"])


def post_thread(
    client: WebClient,
    *,
    channel: str,
    parent: str,
    messages: list[dict[str, Any]],
    skip: int = 0,
    on_posted: Callable[[int], None] | None = None,
) -> int:
    """Post the detail replies under the summary; returns how many could not be posted.

    The summary already stands, so a reply that still fails after the client's bounded retries
    is logged, counted and skipped: the replies after it are still posted. When any is missing,
    a last reply says which, so nobody reads a thread with a gap as the whole diagnosis.
    `skip`: the first replies are already in the thread (posted before a restart).
    `on_posted(i)`: reply i (1-based) and every one before it were handled.
    """
    missing: list[str] = []
    reasons: list[str] = []
    if skip:
        log.info("%d of %d detail replies already posted; posting the rest", skip, len(messages))
    for i, message in enumerate(messages, start=1):
        if i <= skip:
            continue
        try:
            client.chat_postMessage(
                channel=channel, thread_ts=parent, text=message["text"], blocks=message["blocks"]
            )
        except Exception as exc:  # one reply Slack would not take must not drop the others
            why = failure_reason(exc)
            metrics.THREAD_REPLIES_DROPPED.inc()
            log.warning("thread reply %d of %d not posted: %s", i, len(messages), why)
            missing.append(_label(message))
            reasons.append(why)
            continue
        if on_posted is not None:
            on_posted(i)
    if missing:
        _say_missing(client, channel, parent, missing, sorted(set(reasons)), len(messages))
    return len(missing)


def _say_missing(
    client: WebClient,
    channel: str,
    parent: str,
    missing: list[str],
    reasons: list[str],
    total: int,
) -> None:
    text = (
        f":warning: {len(missing)} of {total} detail replies could not be posted "
        f"(Slack: {', '.join(reasons)}): {'; '.join(missing)}. The summary above stands; "
        "run the diagnosis again to see them."
    )
    try:
        client.chat_postMessage(channel=channel, thread_ts=parent, text=text)
    except Exception as exc:  # Slack is refusing this thread: the log and the counter remain
        log.warning("note about missing thread replies not posted: %s", failure_reason(exc))


def failure_reason(exc: Exception) -> str:
    """Slack's error code, or the kind of failure: never the request, which holds the token."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        code = response.get("error") if isinstance(response.data, dict) else None
        # slack_sdk puts the start of a non-JSON body (an HTML error page) in `error`
        return str(code) if _SLACK_CODE.fullmatch(str(code)) else f"HTTP {response.status_code}"
    return type(exc).__name__


def _label(message: dict[str, Any]) -> str:
    """`evidence: inconclusive (1)`: the part of the reply's fallback text that names it."""
    return str(message.get("text") or "reply").rsplit(" · ", 1)[-1]
