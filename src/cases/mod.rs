//! Linea INPS tickets and agency appointments. For now: the ticket number format, which the
//! voice portal already checks when a caller types one.

pub mod ticket_number;
