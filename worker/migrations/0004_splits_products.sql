-- Group splits (接龙) and Moments price pages: what these kinds add to a collection.
-- Money is integer fen; times are Unix seconds.

-- A split's settings. `spec` is core::split::SplitSpec as JSON; cap and deadline are copied
-- into columns so the sign-up statement can check them.
CREATE TABLE splits (
  collection_id  TEXT PRIMARY KEY REFERENCES collections (id),
  spec           TEXT NOT NULL,
  cap            INTEGER CHECK (cap IS NULL OR cap BETWEEN 1 AND 1000),
  deadline       INTEGER,
  pay_mode       TEXT NOT NULL DEFAULT 'personal' CHECK (pay_mode IN ('personal', 'merchant')),
  -- Bumped by the triggers below on every change of a participant: pages poll it (ETag).
  version        INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Sign-ups. `seq` is the position in the list, dense from 1: a sign-up takes MAX(seq) + 1 in
-- one statement (D1 runs statements one at a time), a withdrawal closes the gap in one batch
-- (negative values only exist inside that transaction).
-- Personal data: names, phones and openids are sealed with DATA_KEY (AES-256-GCM, random
-- nonce per value, core::personal_data); the masked forms are what the public sees.
CREATE TABLE participants (
  id             TEXT PRIMARY KEY,
  collection_id  TEXT NOT NULL REFERENCES splits (collection_id),
  seq            INTEGER NOT NULL CHECK (seq <> 0),
  name_masked    TEXT NOT NULL,
  name_sealed    TEXT NOT NULL,
  phone_masked   TEXT,
  phone_sealed   TEXT,
  -- Itemized splits: core::split::Pick list as JSON.
  picks          TEXT NOT NULL DEFAULT '[]',
  -- SHA-256 (hex) of the participant token (edit, withdraw, 我已付款); never the token.
  token_hash     TEXT NOT NULL,
  -- Set when the sign-up came with an Official Account session: reminders can reach them.
  openid_sealed  TEXT,
  status         TEXT NOT NULL DEFAULT 'joined' CHECK (status IN ('joined', 'claimed', 'paid')),
  -- Only the payee (personal mode) or a verified payment (merchant mode) marks a payment.
  paid_by        TEXT CHECK (paid_by IN ('payee_confirmed', 'verified_payment')),
  paid_fen       INTEGER CHECK (paid_fen IS NULL OR paid_fen >= 0),
  -- Merchant mode: the order that paid (written by the payments feature).
  out_trade_no   TEXT,
  claimed_at     INTEGER,
  paid_at        INTEGER,
  reminded_at    INTEGER,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  CHECK ((status = 'paid') = (paid_by IS NOT NULL AND paid_fen IS NOT NULL AND paid_at IS NOT NULL)),
  UNIQUE (collection_id, seq)
) STRICT;

CREATE TRIGGER participants_version_insert AFTER INSERT ON participants BEGIN
  UPDATE splits SET version = version + 1 WHERE collection_id = NEW.collection_id;
END;
CREATE TRIGGER participants_version_update AFTER UPDATE ON participants BEGIN
  UPDATE splits SET version = version + 1 WHERE collection_id = NEW.collection_id;
END;
CREATE TRIGGER participants_version_delete AFTER DELETE ON participants BEGIN
  UPDATE splits SET version = version + 1 WHERE collection_id = OLD.collection_id;
END;

-- Template-message reminders sent (at most one per participant per 12 hours; see
-- participants.reminded_at, claimed atomically before sending).
CREATE TABLE split_reminders (
  id              INTEGER PRIMARY KEY,
  participant_id  TEXT NOT NULL,
  collection_id   TEXT NOT NULL,
  outcome         TEXT NOT NULL CHECK (outcome IN ('sent', 'failed')),
  msgid           TEXT,
  created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX split_reminders_collection ON split_reminders (collection_id);

-- A price page's product: core::product::Product as JSON; the deadline copied for queries.
CREATE TABLE products (
  collection_id  TEXT PRIMARY KEY REFERENCES collections (id),
  detail         TEXT NOT NULL,
  deadline       INTEGER
) STRICT;

-- Images uploaded to R2 (binding IMAGES), resized in the browser before upload.
CREATE TABLE images (
  key           TEXT PRIMARY KEY,
  content_type  TEXT NOT NULL,
  bytes         INTEGER NOT NULL CHECK (bytes > 0),
  -- The payee session that uploaded it, when there was one.
  owner_openid  TEXT,
  created_at    INTEGER NOT NULL
) STRICT;
