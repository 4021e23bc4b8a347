"""Which channel's messages go to which free worker slot, without idle queries.

The runtime asks :meth:`Claims.wanted` every round (cheap: one ``PRAGMA data_version``
and a look at in-memory times) and calls :meth:`Claims.claim` inside its transaction
only when some channel may have work. A channel found empty is skipped until its next
message becomes visible, or until another process commits (``data_version`` changes:
a ``portway send``, a handler's ``jobs.send()``). Channels are visited in turn, so a
busy channel does not starve the others.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator, Mapping

from portway.local import messages
from portway.local.channels import Channel
from portway.local.pool import Invocation, Worker
from portway.model import Function


class Claims:
    def __init__(self, channels: Mapping[str, Channel], functions: Mapping[str, Function]) -> None:
        self.channels = dict(channels)
        self.functions = dict(functions)
        self.not_before: dict[str, float] = dict.fromkeys(self.channels, 0.0)
        self._rotation = 0
        self._data_version = -1
        self._numbers: Iterator[int] = iter(range(1, 1 << 62))

    def next_number(self) -> int:
        return next(self._numbers)

    def wake_all(self) -> None:
        """Look at every channel again (after a schedule tick, say)."""
        self.not_before = dict.fromkeys(self.not_before, 0.0)

    def wanted(self, connection: sqlite3.Connection, now: float) -> bool:
        """True when some channel may have visible messages now."""
        if not self.channels:
            return False
        version = connection.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._data_version = version
            self.wake_all()
        return any(t <= now for t in self.not_before.values())

    def claim(
        self, connection: sqlite3.Connection, now: float, slots: list[Worker]
    ) -> list[tuple[Worker, Invocation]]:
        """Inside a transaction: fill ``slots`` with invocations; return what to send.

        Each pass shares the free slots out among the channels that may have work, in
        turn, and claims each channel's share with **one** statement (its batches are
        then cut from the result): fewer statements hold the write lock for less time.
        A channel with a batching window gets one slot per pass, so that a partial
        batch is not sent before its window ends.
        """
        sent: list[tuple[Worker, Invocation]] = []
        names = list(self.channels)
        while slots:
            ready = []
            for offset in range(len(names)):
                name = names[(self._rotation + offset) % len(names)]
                if self.not_before[name] <= now and self._batch_ready(
                    connection, self.channels[name], now
                ):
                    ready.append(name)
            self._rotation += 1
            if not ready:
                break
            shares = dict.fromkeys(ready, 0)
            for index in range(len(slots)):
                shares[ready[index % len(ready)]] += 1
            progressed = False
            for name in ready:
                channel = self.channels[name]
                size = channel.batch_size
                batches = 1 if channel.max_batching_window > 0 else shares[name]
                deliveries = messages.claim(
                    connection,
                    name,
                    limit=size * batches,
                    visibility_timeout=channel.visibility_timeout,
                    max_attempts=channel.max_attempts,
                    now=now,
                )
                if len(deliveries) < size * batches:
                    self._sleep_until_next(connection, name)
                for start in range(0, len(deliveries), size):
                    consumers = channel.functions
                    consumer = consumers[(self._rotation + start // size) % len(consumers)]
                    worker = slots.pop(0)
                    invocation = Invocation(
                        self.next_number(),
                        self.functions[consumer],
                        channel,
                        deliveries[start : start + size],
                    )
                    worker.inflight.append(invocation)
                    sent.append((worker, invocation))
                    progressed = True
            if not progressed:
                break
        return sent

    def _sleep_until_next(self, connection: sqlite3.Connection, name: str) -> None:
        upcoming = messages.next_visible(connection, name)
        self.not_before[name] = upcoming if upcoming is not None else math.inf

    def _batch_ready(self, connection: sqlite3.Connection, channel: Channel, now: float) -> bool:
        """Honour ``max_batching_window``: wait for a full batch, or the window's end."""
        if channel.max_batching_window <= 0 or channel.batch_size <= 1:
            return True
        if messages.ready(connection, channel.name, now, channel.batch_size) >= channel.batch_size:
            return True
        oldest = messages.oldest_visible(connection, channel.name, now)
        if oldest is None:
            self._sleep_until_next(connection, channel.name)
            return False
        if oldest + channel.max_batching_window <= now:
            return True
        self.not_before[channel.name] = oldest + channel.max_batching_window
        return False
