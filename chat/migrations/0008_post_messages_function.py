"""The relay's batch of chat messages in one statement (chat/relay.py).

`chat_post_messages(posts jsonb)` stores a batch of customers' and agents' plain messages
by the rules of `chat.services`: each post in order, one result row per post. Run as one
statement it costs one round trip instead of five statements in three; in autocommit it
is its own transaction. `tests/chat/test_relay.py` holds it to the services' results.
"""

from django.db import migrations

POST_MESSAGES = """
CREATE OR REPLACE FUNCTION chat_post_messages(posts jsonb)
RETURNS TABLE (r_outcome text, r_id bigint, r_seq integer, r_name text, r_sent_at timestamptz,
               r_seen_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    post record;
    conv record;
    who record;
BEGIN
    -- The batch's conversations locked in id order: two batches never wait on each other
    -- crosswise.
    PERFORM 1 FROM chat_conversation c
     WHERE c.id IN (SELECT (p->>'c')::uuid FROM jsonb_array_elements(posts) p)
     ORDER BY c.id FOR NO KEY UPDATE OF c;
    FOR post IN
        SELECT (p->>'c')::uuid AS c, p->>'r' AS r, p->>'t' AS t, (p->>'k')::uuid AS k, (p->>'u')::integer AS u
          FROM jsonb_array_elements(posts) WITH ORDINALITY AS e(p, i) ORDER BY i
    LOOP
        r_id := NULL; r_seq := NULL; r_name := NULL; r_sent_at := NULL; r_seen_at := NULL;
        SELECT c.state, c.customer_seen_at, ct.name AS contact_name INTO conv
          FROM chat_conversation c LEFT JOIN routing_contact ct ON ct.id = c.contact_id
         WHERE c.id = post.c;
        IF NOT FOUND THEN
            r_outcome := 'not_found'; RETURN NEXT; CONTINUE;
        END IF;
        IF post.r = 'agent' THEN
            SELECT p.role, p.shown_name INTO who FROM chat_participant p
             WHERE p.left_at IS NULL AND p.conversation_id = post.c AND p.agent_id = post.u LIMIT 1;
            IF NOT FOUND OR who.role = 'consultant' THEN
                r_outcome := 'forbidden'; RETURN NEXT; CONTINUE;
            END IF;
            r_name := who.shown_name;
        ELSE
            r_name := coalesce(conv.contact_name, '');
        END IF;
        IF conv.state = 'ended' THEN
            r_outcome := 'ended'; r_name := NULL; RETURN NEXT; CONTINUE;
        END IF;
        IF post.k IS NOT NULL AND EXISTS (
            SELECT 1 FROM chat_message m WHERE m.conversation_id = post.c AND m.client_id = post.k
        ) THEN
            -- stored by an earlier batch, or earlier in this one: a resend
            r_outcome := 'duplicate'; r_name := NULL; RETURN NEXT; CONTINUE;
        END IF;
        -- A customer who speaks counts as present and their silence (W11) starts again.
        UPDATE chat_conversation c SET
            last_seq = c.last_seq + 1,
            customer_seen_at = CASE WHEN post.r = 'customer' THEN now() ELSE c.customer_seen_at END,
            last_customer_message_at = CASE WHEN post.r = 'customer' THEN now() ELSE c.last_customer_message_at END,
            inactivity_warned_at = CASE WHEN post.r = 'customer' THEN NULL ELSE c.inactivity_warned_at END
         WHERE c.id = post.c
        RETURNING c.last_seq INTO r_seq;
        INSERT INTO chat_message (conversation_id, seq, client_id, author_role, author_user_id, author_name,
                                  text, link_url, internal, sent_at)
        VALUES (post.c, r_seq, post.k, post.r, post.u, r_name, post.t, '', false, now())
        RETURNING id INTO r_id;
        r_outcome := 'created'; r_sent_at := now(); r_seen_at := conv.customer_seen_at;
        RETURN NEXT;
    END LOOP;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0007_participant_handing_over"),
        ("routing", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(POST_MESSAGES, reverse_sql="DROP FUNCTION IF EXISTS chat_post_messages(jsonb);"),
    ]
