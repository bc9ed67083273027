"""The garbage collector's settings for a server process that holds many sockets.

A worker with 5,000 open sockets holds millions of objects. With CPython's default
thresholds (700, 10, 10) the objects of messages still in flight survive two young
collections, so the old generation grows by a quarter every 10-40 s and a full collection
follows: 0.6-2 s with the event loop stopped, and under steady chat traffic it found almost
nothing to free (docs/performance.md, change 19). Nearly everything a message allocates is
freed by reference counting; the collector is only for cycles.

So: a young generation large enough (20,000 objects; 50,000 made the pauses while chats
start twice as long for no gain under P2) that in-flight objects have died before it is
collected (they no longer reach the old generation, and full collections become rare), and
the objects loaded at start-up (modules, Django's apps, URL patterns) frozen out of every
collection, as CPython's `gc.freeze` documentation suggests for long-running servers.
"""

from __future__ import annotations

import gc

# Young collections per middle one, middle ones per full one (CPython's: 10 and 10). A full
# collection also waits, as CPython always does, until the old generation grew by a quarter.
MIDDLE_EVERY, OLD_EVERY = 20, 10


def tune_for_many_sockets(young_objects: int) -> None:
    """Once the application is loaded. `young_objects` 0 leaves CPython's defaults."""
    if not young_objects:
        return
    gc.collect()  # start-up garbage is freed, not frozen
    gc.freeze()
    gc.set_threshold(young_objects, MIDDLE_EVERY, OLD_EVERY)
