"""Every kind of durable job the app enqueues, for the workers (meetgraph serve and meetgraph worker)."""

from __future__ import annotations

from meetgraph import sync
from meetgraph.jobs import JobKind
from resolvers import attempts, calendar_writes, notify

KINDS: dict[str, JobKind] = {**calendar_writes.KINDS, **notify.KINDS, **attempts.KINDS, **sync.KINDS}
