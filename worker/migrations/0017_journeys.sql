-- Issue 17 (journeys): contact details buyers leave on a price page that asks for them
-- (`core::contact`). Every detail is sealed with the operator's DATA_KEY, the column bound in
-- (`worker::personal_data::column`); only the payee reads them back, through the manage token.
CREATE TABLE product_contacts (
  id TEXT PRIMARY KEY,
  collection_id TEXT NOT NULL REFERENCES collections (id),
  created_at INTEGER NOT NULL,
  name_sealed TEXT NOT NULL,
  phone_sealed TEXT NOT NULL,
  address_sealed TEXT NOT NULL,
  note_sealed TEXT NOT NULL
);
CREATE INDEX product_contacts_by_collection ON product_contacts (collection_id, created_at);
