-- Evident schema, version 7: when each connection's credentials were last written, kept
-- on the connection rather than worked out from the audit trail. Existing connections
-- take it from their latest ledger entry that wrote the credentials: their creation, or
-- a change that replaced them.
ALTER TABLE connections ADD COLUMN credentials_set_at TIMESTAMPTZ;
UPDATE connections SET credentials_set_at = COALESCE(
    (SELECT max(e.at) FROM events e
      WHERE e.org_id = connections.org_id AND e.subject = 'connection:' || connections.id
        AND (e.type = 'connection.created'
             OR (e.type = 'connection.updated' AND e.data LIKE '%"credentials":%'))),
    created_at);
ALTER TABLE connections ALTER COLUMN credentials_set_at SET NOT NULL;
