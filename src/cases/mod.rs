//! Linea INPS tickets and agency appointments: the codice fiscale check, ticket numbers
//! citizens can type on a keypad, the ticket's life, agencies' agendas generated from their
//! weekly templates, the outcomes operators give their calls, and the store behind a trait
//! (redb, embedded, in the data directory; or PostgreSQL, shared by several nodes).

pub mod agenda;
pub mod appointment;
pub mod call_outcome;
pub mod codice_fiscale;
pub mod outcome_log;
pub mod pg_store;
pub mod redb_store;
pub mod retention;
pub mod store;
pub mod ticket;
pub mod ticket_number;

pub use pg_store::{LeaseHolder, PgStore, PhoneRow, PresenceRow};
pub use redb_store::RedbStore;
pub use store::{CaseStore, StoreError, StoredCallback};
pub use ticket::{NewTicket, Ticket, TicketStatus};
