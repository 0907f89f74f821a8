-- Reminders (issue 13, continued).
-- A message that may not go out before a moment: "remind now" pressed in Beijing's quiet hours
-- (22:00–08:00) is recorded at once and held until 08:00, when the notices cron sends it.
ALTER TABLE notices ADD COLUMN not_before INTEGER;

-- The cron finds directed debtors whose own due date drives their reminder slots.
CREATE INDEX directed_debts_due ON directed_debts (due_at) WHERE due_at IS NOT NULL;
