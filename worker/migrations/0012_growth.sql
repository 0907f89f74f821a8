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
