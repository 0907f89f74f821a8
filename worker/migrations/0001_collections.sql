-- Collections (收款单) published by payees. Money is integer fen.
CREATE TABLE collections (
  id                TEXT PRIMARY KEY,
  kind              TEXT NOT NULL CHECK (kind IN ('request', 'product', 'split')),
  status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  payee_name        TEXT NOT NULL,
  title             TEXT NOT NULL,
  -- NULL: the payer types the amount.
  amount_fen        INTEGER CHECK (amount_fen IS NULL OR amount_fen > 0),
  note              TEXT NOT NULL DEFAULT '',
  pay_code          TEXT NOT NULL,
  -- SHA-256 (hex) of the manage token; the token itself is never stored.
  manage_token_hash TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX collections_created_at ON collections (created_at);
