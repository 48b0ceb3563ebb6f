-- projections::notifications looks up who blocks each message's sender: by the one blocked.
CREATE INDEX notifier_blocks_by_blocked ON notifier_blocks (blocked_id, user_id);
