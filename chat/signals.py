"""What chat tells the apps that follow its chats (reports), without knowing them.

Sent inside the service's transaction, so a receiver's own rows commit or roll back with
the change. Receivers get `conversation_id`.
"""

from django.dispatch import Signal

conversation_ended = Signal()
conversation_rated = Signal()  # after it ended: what was recorded at the end has changed
