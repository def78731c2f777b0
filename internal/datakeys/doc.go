// Package datakeys stores the PII layer's wrapped data keys in PostgreSQL,
// apart from the data they protect (Kafka events and the read models only
// ever hold ciphertexts and key ids).
//
// Table heimdall_keys.data_keys holds, per data key: its id ("dk-…" for
// encrypt, "tk-…" for tokenise), its purpose, the id of the master key that
// wraps it, the wrapped Tink keyset, and when it was created and last
// re-wrapped. Master keys themselves are never stored: they come from the
// environment (package keys). Rows are never deleted: a data key that
// sealed data must stay for as long as the data.
//
// Processes that start at the same time serialise on a transaction-scoped
// advisory lock, so a purpose never gets two active keys by accident.
// Rotate re-wraps every key still wrapped by a previous master key under
// the current one in one transaction, without touching any data.
package datakeys
