//! azure-sim: a local Azure for cutover's tests and for rehearsing a plan: Entra ID's token
//! endpoint and the ARM APIs cutover uses, over HTTPS, answering as Azure does on the wire
//! (status codes, long-running operations, paging, error bodies, throttling).

pub mod admin;
pub mod app;
pub mod arm;
pub mod asr;
pub mod clock;
pub mod contract;
pub mod entra;
pub mod error;
pub mod faults;
pub mod inventory;
pub mod settings;
pub mod state;
pub mod throttle;
pub mod tls;

pub use app::{Running, Sim, start};
pub use settings::Settings;
pub use state::Persistence;
