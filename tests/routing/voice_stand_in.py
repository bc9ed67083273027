"""A stand-in for the voice channel until it exists: it records what the router told it,
which is all the router needs of a channel (routing/handlers.py)."""

from __future__ import annotations


class RecordingVoice:
    def __init__(self):
        self.told = []

    def offered(self, *, offers):
        self.told.extend(("offered", item.reference, agent.pk) for item, agent in offers)

    def offer_withdrawn(self, *, item, agent, reason):
        self.told.append((reason, item.reference, agent.pk))

    def assigned(self, *, item, agent):
        self.told.append(("assigned", item.reference, agent.pk))

    def waiting_changed(self, *, queue_id):
        pass
