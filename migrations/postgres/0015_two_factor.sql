-- Two-factor sign-in (TOTP, RFC 6238). The shared secret is sealed by the
-- token vault, bound to its user; enrolment stays pending (confirmed_at
-- NULL) until a first code proves the app has it.
CREATE TABLE two_factor (
    user_id      TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_id       TEXT NOT NULL,
    nonce        BYTEA NOT NULL,
    ciphertext   BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    -- The last time step a code was taken for: each code signs in once.
    last_step    BIGINT NOT NULL DEFAULT 0
);

-- Single-use recovery codes, as hashes.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- The password was right and the second factor is awaited: a sign-in
-- half done, named by a token's hash, good for a few tries and minutes.
CREATE TABLE sign_in_challenges (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    attempts   BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sign_in_challenges_by_expiry ON sign_in_challenges (expires_at);
