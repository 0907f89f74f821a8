-- Growth (issue 15): A/B tests of a collection's presentation.

-- A test of one collection. At most one test per collection is current (running or decided);
-- replaced and stopped tests keep their figures.
CREATE TABLE ab_tests (
  id             TEXT PRIMARY KEY,
  collection_id  TEXT NOT NULL REFERENCES collections (id),
  owner_openid   TEXT NOT NULL,
  -- The hash salt of the assignment (core::abtest::assign).
  salt           TEXT NOT NULL,
  -- JSON array of core::abtest::Variant (2–4), checked by the compliance lint when stored.
  variants       TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('running', 'decided', 'stopped')),
  -- The declared winner (0-based) when status = 'decided'.
  winner         INTEGER CHECK (winner IS NULL OR winner >= 0),
  created_at     INTEGER NOT NULL,
  ended_at       INTEGER
) STRICT;

CREATE UNIQUE INDEX ab_tests_current ON ab_tests (collection_id) WHERE status IN ('running', 'decided');

-- Exposures: a visitor (visitor cookie id, or a keyed hash of the openid) saw a variant. Once
-- per visitor per variant.
CREATE TABLE ab_exposures (
  test_id   TEXT NOT NULL REFERENCES ab_tests (id),
  visitor   TEXT NOT NULL,
  variant   INTEGER NOT NULL,
  seen_at   INTEGER NOT NULL,
  PRIMARY KEY (test_id, visitor, variant)
) STRICT, WITHOUT ROWID;

-- What a visitor started after seeing a variant: an order (`o:<out_trade_no>`) or a split
-- sign-up (`p:<participant id>`), so its later payment or claim is attributed to that variant.
CREATE TABLE ab_links (
  ref         TEXT PRIMARY KEY,
  test_id     TEXT NOT NULL REFERENCES ab_tests (id),
  visitor     TEXT NOT NULL,
  variant     INTEGER NOT NULL,
  created_at  INTEGER NOT NULL
) STRICT;

-- Conversions: a verified payment (`paid`), a sign-up (`signup`) or a 我已付款 (`claim`), once per
-- visitor, variant and kind. The rate counts distinct visitors.
CREATE TABLE ab_conversions (
  test_id     TEXT NOT NULL REFERENCES ab_tests (id),
  visitor     TEXT NOT NULL,
  variant     INTEGER NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('paid', 'signup', 'claim')),
  ref         TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (test_id, visitor, variant, kind)
) STRICT, WITHOUT ROWID;

-- Approval before refunds.

-- A payee's rule: refunds above threshold_fen need its approvers (JSON array of 1–3 openids,
-- in order), each of whom accepted an invitation of this payee.
CREATE TABLE refund_policies (
  payee_openid   TEXT PRIMARY KEY,
  threshold_fen  INTEGER NOT NULL CHECK (threshold_fen > 0),
  approvers      TEXT NOT NULL,
  updated_at     INTEGER NOT NULL
) STRICT;

-- Invitations to approve a payee's refunds (other payees or staff), by link. The token itself
-- is never stored.
CREATE TABLE approver_invites (
  token_hash    TEXT PRIMARY KEY,
  payee_openid  TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  accepted_by   TEXT,
  accepted_at   INTEGER
) STRICT;

CREATE INDEX approver_invites_payee ON approver_invites (payee_openid);

-- A refund waiting for its approvers; it reaches WeChat Pay (a `refunds` row) only after the
-- last approval. `step` is the index of the approver whose turn it is.
CREATE TABLE refund_requests (
  id                TEXT PRIMARY KEY,
  order_id          TEXT NOT NULL REFERENCES orders (id),
  payee_openid      TEXT NOT NULL,
  requester_openid  TEXT NOT NULL,
  amount_fen        INTEGER NOT NULL CHECK (amount_fen > 0),
  reason            TEXT NOT NULL,
  chain             TEXT NOT NULL,
  step              INTEGER NOT NULL DEFAULT 0,
  status            TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'executing', 'refunded', 'failed')),
  out_refund_no     TEXT,
  failure           TEXT,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX refund_requests_payee ON refund_requests (payee_openid, created_at);

-- Every decision: who, when, approve or reject, the comment. One per step.
CREATE TABLE refund_approvals (
  request_id       TEXT NOT NULL REFERENCES refund_requests (id),
  step             INTEGER NOT NULL,
  approver_openid  TEXT NOT NULL,
  decision         TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
  comment          TEXT NOT NULL,
  decided_at       INTEGER NOT NULL,
  PRIMARY KEY (request_id, step)
) STRICT;

-- Membership points.

-- A payee's programme: points per whole yuan of verified payments.
CREATE TABLE points_programmes (
  payee_openid  TEXT PRIMARY KEY,
  per_yuan      INTEGER NOT NULL CHECK (per_yuan BETWEEN 1 AND 100),
  -- Redemption at merchant checkout: what one point is worth (0 = no redemption) and the cap
  -- of points per order.
  fen_per_point INTEGER NOT NULL DEFAULT 0 CHECK (fen_per_point BETWEEN 0 AND 100),
  max_per_order INTEGER NOT NULL DEFAULT 0 CHECK (max_per_order >= 0),
  updated_at    INTEGER NOT NULL
) STRICT;

-- The ledger: append-only (the triggers refuse changes); a balance is SUM(delta). `member` is a
-- keyed hash of the payer's openid (never the openid). `ref` names the event (`earn:<out_trade_no>`,
-- `reverse:<out_refund_no>`, `redeem:<out_trade_no>` reserved with the order, `release:<out_trade_no>`
-- when that order closes unpaid), so an event is booked once.
CREATE TABLE points_ledger (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  payee_openid  TEXT NOT NULL,
  member        TEXT NOT NULL,
  delta         INTEGER NOT NULL,
  kind          TEXT NOT NULL CHECK (kind IN ('earn', 'reverse', 'redeem', 'release')),
  ref           TEXT NOT NULL UNIQUE,
  order_id      TEXT NOT NULL,
  created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX points_ledger_member ON points_ledger (payee_openid, member);
CREATE INDEX points_ledger_order ON points_ledger (order_id, kind);

CREATE TRIGGER points_ledger_no_update BEFORE UPDATE ON points_ledger
BEGIN SELECT RAISE(ABORT, 'points_ledger is append-only'); END;
CREATE TRIGGER points_ledger_no_delete BEFORE DELETE ON points_ledger
BEGIN SELECT RAISE(ABORT, 'points_ledger is append-only'); END;
