//! Webhooks' side that needs the runtime and the network: the HTTP sender with its target check and the
//! dispatcher loop. The rules (payloads, signatures, retries, which addresses are internal) are the domain's
//! (`latchkey_domain::hook`); the outbox is the store's.

pub mod dispatcher;
pub mod sender;
