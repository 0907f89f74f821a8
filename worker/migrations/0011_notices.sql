-- Notices (issue 13): template messages to payees (a payment, a refund, a 我已付款 claim, the
-- 20:00 digest) and scheduled reminders to split participants. Times are Unix seconds.

-- A payee's switches (no row: notices on, digest off).
CREATE TABLE notice_settings (
  openid      TEXT PRIMARY KEY,
  notices     INTEGER NOT NULL DEFAULT 1 CHECK (notices IN (0, 1)),
  digest      INTEGER NOT NULL DEFAULT 0 CHECK (digest IN (0, 1)),
  updated_at  INTEGER NOT NULL
) STRICT;

-- Every message, one row per event: the row is inserted (the unique event_key claims the
-- event) before anything is sent, so a repeated or racing callback or claim sends nothing more.
-- event_key: 'paid:<order id>', 'refund:<out_refund_no>', 'claim:<participant id>:<claimed_at>',
-- 'digest:<openid>:<Shanghai day>', 'remind:<participant id>:<slot offset>'.
-- `data` is the template data (titles, amounts, masked names only); the recipient is the payee
-- (payee_openid) or, for reminders, the participant (its sealed openid stays in participants).
CREATE TABLE notices (
  id              INTEGER PRIMARY KEY,
  event_key       TEXT NOT NULL UNIQUE,
  kind            TEXT NOT NULL CHECK (kind IN ('paid', 'refund', 'claim', 'digest', 'reminder')),
  -- NULL: a split published with a manage link only (its reminders still go out).
  payee_openid    TEXT,
  collection_id   TEXT,
  participant_id  TEXT,
  template_id     TEXT NOT NULL,
  data            TEXT NOT NULL,
  path            TEXT,
  -- pending: not sent yet or WeChat unreachable (the cron tries again, MAX_ATTEMPTS);
  -- sent; failed: WeChat refused it (errcode, never retried); skipped: nothing to send any more.
  state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
  errcode         INTEGER,
  errmsg          TEXT,
  msgid           TEXT,
  attempts        INTEGER NOT NULL DEFAULT 0,
  tried_at        INTEGER,
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER
) STRICT;
CREATE INDEX notices_payee ON notices (payee_openid, created_at);
CREATE INDEX notices_pending ON notices (state, created_at) WHERE state = 'pending';
CREATE INDEX notices_participant ON notices (participant_id, created_at) WHERE participant_id IS NOT NULL;
CREATE INDEX notices_collection ON notices (collection_id, created_at) WHERE collection_id IS NOT NULL;

-- The reminder slots a payee chose for a split (core::remind_schedule::Slots as JSON).
CREATE TABLE split_reminder_slots (
  collection_id  TEXT PRIMARY KEY,
  offsets        TEXT NOT NULL,
  updated_at     INTEGER NOT NULL
) STRICT;

-- The cron looks for splits with slots around their deadline, and for today's owners.
CREATE INDEX notices_splits_deadline ON splits (deadline) WHERE deadline IS NOT NULL;
CREATE INDEX notices_participants_status ON participants (collection_id, status);
CREATE INDEX notices_orders_payee_paid ON orders (payee_openid, paid_at) WHERE paid_at IS NOT NULL;

-- Self-service in the Official Account (订单 / 退款): a follower's sign-ups are found by a keyed
-- hash of their openid (the openid itself stays sealed in openid_sealed).
ALTER TABLE participants ADD COLUMN openid_key TEXT;
CREATE INDEX participants_openid_key ON participants (openid_key, created_at) WHERE openid_key IS NOT NULL;

-- A follower asked (订单) while an order of theirs was pending: when it is confirmed within
-- 48 h of the question, the answer goes out as a customer-service message, once.
CREATE TABLE oa_followups (
  order_id   TEXT PRIMARY KEY,
  openid     TEXT NOT NULL,
  asked_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX oa_followups_asked ON oa_followups (asked_at);

-- Directed requests (定向催收): each debtor's due date (the split's deadline is the latest).
CREATE TABLE directed_debts (
  participant_id  TEXT PRIMARY KEY,
  collection_id   TEXT NOT NULL,
  due_at          INTEGER
) STRICT;
CREATE INDEX directed_debts_collection ON directed_debts (collection_id);

-- Transfer screenshots (转账凭证) attached to 我已付款, stored in R2 (IMAGES) under proofs/…;
-- only the payee (manage token) reads them.
CREATE TABLE claim_proofs (
  id              INTEGER PRIMARY KEY,
  participant_id  TEXT NOT NULL,
  collection_id   TEXT NOT NULL,
  r2_key          TEXT NOT NULL UNIQUE,
  content_type    TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
  bytes           INTEGER NOT NULL CHECK (bytes > 0),
  created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX claim_proofs_participant ON claim_proofs (participant_id, created_at);
