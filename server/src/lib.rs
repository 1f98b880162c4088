//! The relay as a real server: `relayd` (the relay crate on real threads
//! behind a TCP listener speaking the telegram frame format), the `load`
//! generator (real CS terminals over TCP), and what they share: frames with
//! size and time bounds, and the router of answers to connections.

pub mod frame;
pub mod load;
pub mod relayd;
pub mod router;
pub mod seal;
pub mod upstream;

pub use load::{run_load, LoadConfig, LoadReport, Progress};
pub use relayd::{Relayd, ServerConfig, ServerStats, Shutdown, Stopper};
pub use upstream::{TcpUpstream, UpstreamServer, UpstreamStats};
