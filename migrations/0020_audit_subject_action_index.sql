-- 0020: the lockout check counts one account's failed sign-ins of the last hour
-- (subject_id, action, at). With only (subject_id, at) and (action, at) to choose from, SQLite
-- walked every sign-in of the hour across all accounts through the second: 169 ms a check with
-- 153,000 sign-ins in the hour, so a morning rush slowed itself quadratically. This index
-- answers it from one account's rows.
CREATE INDEX audit_log_subject_action ON audit_log(subject_id, action, at);
