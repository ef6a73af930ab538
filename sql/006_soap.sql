-- SOAP WS-Security: nonces of UsernameTokens seen within the window (a second use is a replay;
-- the primary key decides, even between two controllers), and when each user's SOAP logins were
-- last audited (at most one audit row per user and minute, like API token use).

CREATE TABLE soap_nonces (
	nonce_hash text PRIMARY KEY,
	expires_at timestamptz NOT NULL
);
CREATE INDEX soap_nonces_expiry ON soap_nonces (expires_at);

CREATE TABLE soap_logins (
	user_id bigint PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	last_audit_at timestamptz NOT NULL
);
