-- Two-factor sign-in (TOTP, RFC 6238). The shared secret is sealed by the
-- token vault, bound to its user; enrolment stays pending (confirmed_at
-- NULL) until a first code proves the app has it.
CREATE TABLE two_factor (
    user_id      TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_id       TEXT NOT NULL,
    nonce        BLOB NOT NULL,
    ciphertext   BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    -- The last time step a code was taken for: each code signs in once.
    last_step    INTEGER NOT NULL DEFAULT 0
);

-- Single-use recovery codes, as hashes.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

-- The password was right and the second factor is awaited: a sign-in
-- half done, named by a token's hash, good for a few tries and minutes.
CREATE TABLE sign_in_challenges (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    attempts   INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sign_in_challenges_by_expiry ON sign_in_challenges (expires_at);
