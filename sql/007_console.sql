-- Console tickets and the per-node console endpoint (issue 7).
--
-- A ticket is a one-time password for one console open: only its SHA-256 is stored, it belongs
-- to one user and one vServer, lives at most 60 seconds and is consumed by the statement that
-- opens the console (used_at). A vServer that stops, is deleted or moves to another node loses
-- all its tickets at once (trigger below), so a ticket always reaches the node the vServer runs on.

ALTER TABLE nodes ADD COLUMN console_endpoint text;

CREATE TABLE console_tickets (
	hash text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
	user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	vserver_id bigint NOT NULL REFERENCES vservers(id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	CHECK (expires_at <= created_at + interval '60 seconds')
);
CREATE INDEX console_tickets_vserver ON console_tickets (vserver_id);
CREATE INDEX console_tickets_expiry ON console_tickets (expires_at);

CREATE FUNCTION wr_console_revoke() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.state NOT IN ('running', 'paused') OR NEW.node_id IS DISTINCT FROM OLD.node_id THEN
		DELETE FROM console_tickets WHERE vserver_id = NEW.id;
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER vservers_console_revoke AFTER UPDATE OF state, node_id ON vservers
	FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state OR
			   NEW.node_id IS DISTINCT FROM OLD.node_id)
	EXECUTE FUNCTION wr_console_revoke();
