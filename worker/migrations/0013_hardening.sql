-- Issue 14 (harden): the daily limit's per-payer hold, and the cron's backlog.
--
-- payer_key: who started the order, as a keyed hash (the payer's openid inside WeChat, the
-- client address outside; `worker::abuse::payer_key`). Pending orders of other payers hold
-- only a small part of the day (`core::limits`). NULL for orders made before this migration
-- (each then counts as its own payer).
ALTER TABLE orders ADD COLUMN payer_key TEXT;
-- prepaid: 0 from the reserving INSERT until WeChat Pay accepted the prepay, then 1. An
-- expired order still at 0 was never handed to WeChat Pay (the worker stopped in between):
-- the cron closes those locally in bulk, without a call. NULL for older orders (asked as before).
ALTER TABLE orders ADD COLUMN prepaid INTEGER;
-- The cron's work list: pending orders by expiry.
CREATE INDEX orders_pending_expiry ON orders (expires_at) WHERE state = 'pending';
