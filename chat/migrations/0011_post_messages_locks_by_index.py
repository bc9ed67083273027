"""`chat_post_messages` locks the batch's conversations through the primary key.

0008 took them with `id IN (SELECT … FROM jsonb_array_elements(posts))`. The planner guesses
100 rows for the function, so on a few thousand conversations it chose a hash join over a
sequential scan of the whole table, on every batch: 390 µs of a batch of one's 570 µs on
2,400 conversations, and more as the table (and, without vacuum, its dead rows) grows.
`id = ANY(ARRAY(…))` is looked up in the primary key whatever the table holds.
"""

import importlib

from django.db import migrations

PREVIOUS = importlib.import_module("chat.migrations.0008_post_messages_function").POST_MESSAGES
SCANNED = "WHERE c.id IN (SELECT (p->>'c')::uuid FROM jsonb_array_elements(posts) p)"
LOOKED_UP = "WHERE c.id = ANY (ARRAY(SELECT (p->>'c')::uuid FROM jsonb_array_elements(posts) p))"
assert PREVIOUS.count(SCANNED) == 1
POST_MESSAGES = PREVIOUS.replace(SCANNED, LOOKED_UP)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0010_contact_record_due_moves_to_reports"),
    ]

    operations = [
        migrations.RunSQL(POST_MESSAGES, reverse_sql=PREVIOUS),
    ]
