//! `chukei relayd`: the relay as a TCP server (`server::relayd`).

use crate::one;
use anyhow::{Context, Result};
use relay::{Preset, RelayConfig};
use server::{Relayd, ServerConfig};
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// The relay's fixes: a preset (the base the `--patch` overrides apply
    /// to).
    #[arg(long, default_value = "proposed", value_parser = one::<Preset>())]
    preset: Preset,
    /// Override one switch of the preset (repeatable), e.g. `--patch
    /// cs_rule=legacy`; the names are `chukei check --help`'s.
    #[arg(long = "patch", value_name = "NAME=VALUE", value_parser = crate::config_args::parse_patch)]
    patches: Vec<String>,
    /// A variant file (TOML: `name`, `description`, `base` preset and a
    /// `[switches]` table) instead of `--preset`.
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    variant: Option<std::path::PathBuf>,
    /// Admitted connections at once (70 in January 2016, later 94); over
    /// it a request is answered connection excess.
    #[arg(long, default_value_t = 70, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Business AP worker threads.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: u16,
    /// HSM boards, each with its own interrupt line and CPU core; AP worker
    /// `w` uses board `w % N` (1 in January 2016, 2 again from April; at
    /// most `--workers`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    hsm_boards: u16,
    /// The per-telegram timer.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    telegram_timeout: Duration,
    /// HSM time per operation (two per telegram).
    #[arg(long, default_value = "5ms", value_parser = humantime::parse_duration)]
    hsm_latency: Duration,
    /// A separate card management server (`chukei upstream`) instead of
    /// the in-process one; a request it does not answer in time is answered
    /// `ErrorUpstream`.
    #[arg(long, value_name = "ADDR")]
    upstream: Option<SocketAddr>,
    /// Card management server time per request (in-process upstream; with
    /// `--upstream`, the wait for it is this plus 2 s).
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    upstream_latency: Duration,
    /// Requests the card management server handles at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    upstream_capacity: u32,
    /// A whole request frame must arrive within this (slow clients are
    /// dropped).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    frame_deadline: Duration,
    /// Per-CS keys (`CS-NUMBER 64-HEX-DIGIT-KEY` per line): every request
    /// must then be sealed by its CS; forged, tampered, replayed and
    /// other-CS telegrams are rejected before they reach the relay.
    #[arg(long, value_name = "FILE")]
    keys: Option<std::path::PathBuf>,
    /// Log lines as text or JSON (every line names its thread and telegram;
    /// `RUST_LOG=info,relay=debug` adds every relay event).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Print the shutdown summary as JSON.
    #[arg(long)]
    json: bool,
}

fn millis(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl Args {
    /// The relay's configuration: the preset or the variant, patched.
    fn config(&self) -> Result<patches::Config> {
        let base = match &self.variant {
            Some(path) => crate::config_args::read_variant(path)?,
            None => patches::Config::preset(self.preset),
        };
        Ok(base.patched(&self.patches)?)
    }

    fn server_config(&self) -> Result<ServerConfig> {
        let config = self.config()?;
        if self.hsm_boards > self.workers {
            anyhow::bail!(
                "--hsm-boards {} exceeds --workers {}: worker w uses board w % boards, so boards past the workers would stay idle",
                self.hsm_boards,
                self.workers
            );
        }
        let relay = RelayConfig {
            workers: self.workers,
            hsm_boards: self.hsm_boards,
            connection_limit: self.max_connections,
            telegram_timeout: millis(self.telegram_timeout).max(1),
            hsm_latency: millis(self.hsm_latency),
            upstream_latency: millis(self.upstream_latency),
            upstream_capacity: self.upstream_capacity,
            ..RelayConfig::production(config.patches)
        };
        let mut config = ServerConfig::new(relay);
        config.frame_deadline = self.frame_deadline.max(Duration::from_millis(1));
        config.upstream = self.upstream;
        if let Some(path) = &self.keys {
            config.keys = Some(std::sync::Arc::new(server::seal::KeyRing::from_file(path)?));
        }
        Ok(config)
    }
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let name = args.config()?.name();
    let config = args.server_config()?;
    let listener =
        TcpListener::bind(args.listen).with_context(|| format!("listening on {}", args.listen))?;
    let relayd = Relayd::start(listener, config, relay::EventLog::tracing_only())
        .context("starting relayd")?;
    let stopper = relayd.stopper();
    ctrlc::set_handler(move || stopper.stop()).context("installing the SIGINT/SIGTERM handler")?;
    eprintln!(
        "relayd: listening on {} (configuration {name}, max connections {}, HSM boards {}); SIGINT or SIGTERM stops it",
        relayd.local_addr(),
        args.max_connections,
        args.hsm_boards
    );
    let shutdown = relayd.wait();
    if args.json {
        say!("{}", serde_json::to_string_pretty(&shutdown)?);
    } else {
        let s = &shutdown.stats;
        say!(
            "relayd stopped: {} connections, {} admitted, {} answered, {} connection excess, {} lost by the relay, {} answered ErrorShutdown, {} client gone; dropped frames: {} malformed, {} oversized, {} stalled, {} closed early",
            s.connections, s.admitted, s.answered, s.connection_excess, s.lost_by_relay,
            s.shutdown_errors, s.vanished, s.malformed, s.oversized, s.stalled, s.closed_early
        );
        if args.upstream.is_some() {
            say!(
                "  answered ErrorUpstream (upstream away or too slow): {}",
                s.upstream_errors
            );
        }
        let per_board: Vec<String> = s.hsm_operations.iter().map(u64::to_string).collect();
        say!("  HSM operations per board: {}", per_board.join(", "));
        if s.worker_restarts > 0 {
            say!(
                "  AP workers restarted: {} (each lost the telegram it had in flight)",
                s.worker_restarts
            );
        }
        say!(
            "  remembered (bounded): answer counts of {} telegrams, {} sealed attempts",
            s.answers_remembered,
            s.replays_remembered
        );
        for (reason, n) in &s.rejected {
            say!("  rejected {reason}: {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args, Debug)]
pub struct UpstreamArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// Time per request.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    latency: Duration,
    /// Requests in progress at once; more wait.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    capacity: u32,
    /// A whole request frame must arrive within this.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    frame_deadline: Duration,
    /// Print the shutdown summary as JSON.
    #[arg(long)]
    json: bool,
}

/// `chukei upstream`: the card management server as a process of its own,
/// until SIGINT or SIGTERM.
pub fn run_upstream(args: &UpstreamArgs) -> Result<ExitCode> {
    let listener =
        TcpListener::bind(args.listen).with_context(|| format!("listening on {}", args.listen))?;
    let register = std::sync::Arc::new(relay::upstream::Upstream::<relay::Std>::new(
        millis(args.latency),
        args.capacity,
    ));
    let deadline = args.frame_deadline.max(Duration::from_millis(1));
    let server =
        server::UpstreamServer::start(listener, register, deadline).context("starting upstream")?;
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .context("installing the SIGINT/SIGTERM handler")?;
    eprintln!(
        "upstream: listening on {} (latency {:?}, capacity {}); SIGINT or SIGTERM stops it",
        server.local_addr(),
        args.latency,
        args.capacity
    );
    let _ = rx.recv();
    let stats = server.shutdown();
    if args.json {
        say!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        say!(
            "upstream stopped: {} connections, {} answered ({} unauthorized), {} dropped",
            stats.connections,
            stats.answered,
            stats.unauthorized,
            stats.dropped
        );
    }
    Ok(ExitCode::SUCCESS)
}
