-- Growth (issue 15), round two: customer tags, and points that expire.

-- A payee's free tags, in groups (`grp` '班级', `name` '三年二班'; `grp` may be empty).
CREATE TABLE tags (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  payee_openid  TEXT NOT NULL,
  grp           TEXT NOT NULL,
  name          TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  UNIQUE (payee_openid, grp, name)
) STRICT;

-- Who carries a tag. `person` is core::tags::Person's key within this payee's data: `o` + the
-- keyed hash of the openid (the points member hash; never the openid), or `n` + a sign-up's
-- masked name when no openid is known.
CREATE TABLE person_tags (
  tag_id        INTEGER NOT NULL REFERENCES tags (id),
  payee_openid  TEXT NOT NULL,
  person        TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (tag_id, person)
) STRICT, WITHOUT ROWID;

CREATE INDEX person_tags_payee ON person_tags (payee_openid, person);

-- Points expiry: the programme's life of points in days (NULL: they never expire) …
ALTER TABLE points_programmes ADD COLUMN expire_days INTEGER CHECK (expire_days IS NULL OR expire_days BETWEEN 1 AND 3650);

-- … and the ledger's new kind of entry, `expire` (ref `expire:<member>:<last entry id>`,
-- written by the cron). SQLite cannot change a CHECK in place: the ledger is copied into a
-- table with the wider CHECK, ids and all (DROP TABLE fires no trigger), and its indexes and
-- append-only triggers are made again.
CREATE TABLE points_ledger_new (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  payee_openid  TEXT NOT NULL,
  member        TEXT NOT NULL,
  delta         INTEGER NOT NULL,
  kind          TEXT NOT NULL CHECK (kind IN ('earn', 'reverse', 'redeem', 'release', 'expire')),
  ref           TEXT NOT NULL UNIQUE,
  order_id      TEXT NOT NULL,
  created_at    INTEGER NOT NULL
) STRICT;

INSERT INTO points_ledger_new (id, payee_openid, member, delta, kind, ref, order_id, created_at)
SELECT id, payee_openid, member, delta, kind, ref, order_id, created_at FROM points_ledger ORDER BY id;

DROP TABLE points_ledger;
ALTER TABLE points_ledger_new RENAME TO points_ledger;

CREATE INDEX points_ledger_member ON points_ledger (payee_openid, member);
CREATE INDEX points_ledger_order ON points_ledger (order_id, kind);

CREATE TRIGGER points_ledger_no_update BEFORE UPDATE ON points_ledger
BEGIN SELECT RAISE(ABORT, 'points_ledger is append-only'); END;
CREATE TRIGGER points_ledger_no_delete BEFORE DELETE ON points_ledger
BEGIN SELECT RAISE(ABORT, 'points_ledger is append-only'); END;
