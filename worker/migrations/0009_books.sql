-- Books that agree with WeChat Pay (issue 11): each day's bills, what reconciling them found,
-- and every heal. Nothing here is ever changed silently: a discrepancy row, once written, stays
-- (a heal adds its outcome to it), so re-running a day gives the same report.

-- One bill of one day: the trade bill (ALL) and fund-flow bill (BASIC) of one merchant — the
-- configured merchant (own business) or one sub-merchant (platform).
CREATE TABLE book_days (
  bill_date        TEXT NOT NULL,          -- yyyy-MM-dd, Asia/Shanghai
  merchant         TEXT NOT NULL,          -- mchid (direct) or sub_mchid (platform)
  sub_mchid        TEXT,                   -- set for the platform model's bills
  payee_openid     TEXT,                   -- the sub-merchant's payee (platform)
  -- waiting: not downloaded yet (retried every 30 minutes until 12:00)
  -- done: downloaded, verified, reconciled; no_bill: WeChat has none and neither have we
  -- refused: hash mismatch or unreadable file (nothing parsed); missing: none by 12:00
  state            TEXT NOT NULL CHECK (state IN ('waiting', 'done', 'no_bill', 'refused', 'missing')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_attempt_at  INTEGER,
  message          TEXT,                   -- WeChat's code / why refused, for the report
  trade_hash       TEXT,                   -- SHA-1 of the uncompressed trade bill (checked)
  trade_r2_key     TEXT,                   -- the original, sealed, in R2 (BOOKS)
  fund_hash        TEXT,
  fund_r2_key      TEXT,
  fund_income_fen  INTEGER,
  fund_expense_fen INTEGER,
  matched          INTEGER NOT NULL DEFAULT 0,
  reconciled_at    INTEGER,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (bill_date, merchant)
) STRICT;
CREATE INDEX book_days_state ON book_days (state, bill_date);

-- The bill's money per payee ('' = rows nobody here owns).
CREATE TABLE book_totals (
  bill_date      TEXT NOT NULL,
  merchant       TEXT NOT NULL,
  payee_openid   TEXT NOT NULL,
  payments       INTEGER NOT NULL,
  paid_fen       INTEGER NOT NULL,
  refunds        INTEGER NOT NULL,
  refunded_fen   INTEGER NOT NULL,
  fee_milli_fen  INTEGER NOT NULL,
  fees_fen       INTEGER NOT NULL,
  net_fen        INTEGER NOT NULL,
  PRIMARY KEY (bill_date, merchant, payee_openid)
) STRICT;

-- Every disagreement, with its evidence (the bill row without the payer's openid, and ours),
-- and the heal attempted for it.
CREATE TABLE book_discrepancies (
  id              INTEGER PRIMARY KEY,
  bill_date       TEXT NOT NULL,
  merchant        TEXT NOT NULL,
  kind            TEXT NOT NULL,
  key             TEXT NOT NULL,           -- out_trade_no, or out_refund_no for refund kinds
  payee_openid    TEXT,
  out_trade_no    TEXT NOT NULL,
  transaction_id  TEXT,
  out_refund_no   TEXT,
  refund_id       TEXT,
  bill_fen        INTEGER,
  our_fen         INTEGER,
  message         TEXT NOT NULL,
  evidence        TEXT NOT NULL,           -- JSON: the discrepancy as found
  created_at      INTEGER NOT NULL,
  healed_at       INTEGER,
  heal            TEXT,                    -- what the heal did, in Chinese
  heal_evidence   TEXT,                    -- JSON: WeChat's answer to the query (state, ids, amount)
  UNIQUE (bill_date, merchant, kind, key)
) STRICT;
CREATE INDEX book_discrepancies_payee ON book_discrepancies (payee_openid, bill_date);
