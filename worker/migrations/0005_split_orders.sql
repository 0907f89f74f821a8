-- Merchant-mode splits (接龙) paid through WeChat Pay: the participant an order pays for.
-- Set by POST /api/orders (participant token checked, amount = their due); read once, after
-- the order's single transition to paid, to mark that participant paid by a verified payment.
ALTER TABLE orders ADD COLUMN participant_id TEXT;
CREATE INDEX orders_participant ON orders (participant_id) WHERE participant_id IS NOT NULL;
