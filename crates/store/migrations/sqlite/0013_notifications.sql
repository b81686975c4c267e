-- What each member is told by e-mail. No row: the defaults (band changes on, weekly digest off, UTC).
CREATE TABLE notification_settings (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    band_changed INTEGER NOT NULL DEFAULT 1,
    weekly_digest INTEGER NOT NULL DEFAULT 0,
    time_zone TEXT NOT NULL DEFAULT 'UTC'
);
