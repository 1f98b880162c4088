//! `chukei load`: N real CS terminals over TCP against one or more relayds.

use anyhow::{bail, Result};
use relay::CsRule;
use server::{run_load, LoadConfig, LoadReport, Progress};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The CS rule the terminals follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Rule {
    /// 2016: on connection excess, drop everything in flight, block a minute.
    Legacy,
    /// Retry only the refused telegram, as the same telegram, with backoff.
    Improved,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Relays to load, comma-separated; several = round-robin distributor.
    #[arg(
        long,
        value_name = "ADDR[,ADDR...]",
        value_delimiter = ',',
        required = true
    )]
    target: Vec<SocketAddr>,
    /// CS terminals.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    cs: u16,
    /// Telegrams per second offered by all terminals together.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// How long the terminals keep issuing cards (rate x duration cards).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// The terminals' CS rule.
    #[arg(long, value_enum, default_value_t = Rule::Improved)]
    rule: Rule,
    /// Telegrams in flight per terminal.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
    window: u64,
    /// A terminal's wait for an answer before it gives up on it.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    search_timeout: Duration,
    /// How long the legacy rule blocks a terminal.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    block_for: Duration,
    /// The improved rule's first backoff (doubling per refusal).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    backoff: Duration,
    /// First card number; use a new range for each run against one relayd.
    #[arg(long, default_value_t = 1)]
    first_card: u64,
    /// Per-CS keys (the relayd's key file): each terminal seals its
    /// requests with its own key and checks the answers.
    #[arg(long, value_name = "FILE")]
    keys: Option<std::path::PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

impl Args {
    fn load_config(&self) -> Result<LoadConfig> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            bail!(
                "--rate must be a positive number of telegrams per second, not {}",
                self.rate
            );
        }
        if self.duration.is_zero() {
            bail!("--duration must be longer than zero");
        }
        let mut c = LoadConfig::new(self.target.clone(), self.cs, self.rate, self.duration);
        c.rule = match self.rule {
            Rule::Legacy => CsRule::Legacy,
            Rule::Improved => CsRule::Improved,
        };
        c.window = self.window as usize;
        c.search_timeout = self.search_timeout;
        c.block_for = self.block_for;
        c.backoff = self.backoff;
        c.answer_deadline = self.search_timeout.max(Duration::from_secs(1)) * 2;
        c.first_card = self.first_card;
        if let Some(path) = &self.keys {
            let keys = server::seal::KeyRing::from_file(path)?;
            if let Some(cs) = (1..=self.cs).find(|&cs| !keys.contains(relay::telegram::CsId(cs))) {
                bail!(
                    "{} has no key for cs-{cs} (terminals are cs-1..cs-{})",
                    path.display(),
                    self.cs
                );
            }
            c.keys = Some(std::sync::Arc::new(keys));
        }
        Ok(c)
    }
}

/// Exit 0 when every admitted telegram was answered, 1 when the relay lost
/// one, 2 on bad arguments.
pub fn run(args: &Args) -> Result<ExitCode> {
    let config = args.load_config()?;
    let report = if args.quiet {
        run_load(config, |_| {})
    } else if std::io::stderr().is_terminal() {
        with_bar(config)
    } else {
        with_lines(config)
    };
    if args.json {
        say!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.lost == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn with_bar(config: LoadConfig) -> LoadReport {
    let bar = indicatif::ProgressBar::new(config.cards_each() * config.terminals as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} answered {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = run_load(config, |p: &Progress| {
        bar.set_position(p.answered.min(p.planned));
        bar.set_message(format!(
            "sent {} excess {} lost {}",
            p.sent, p.connection_excess, p.lost
        ));
    });
    bar.finish_and_clear();
    report
}

fn with_lines(config: LoadConfig) -> LoadReport {
    let last = Mutex::new(Instant::now());
    run_load(config, |p: &Progress| {
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= Duration::from_secs(1) {
            *last = Instant::now();
            eprintln!(
                "load: {:>5.1}s sent {} answered {}/{} excess {} lost {}",
                p.elapsed.as_secs_f64(),
                p.sent,
                p.answered,
                p.planned,
                p.connection_excess,
                p.lost
            );
        }
    })
}

fn print_report(r: &LoadReport) {
    say!(
        "load: {} CS terminals, {} rule, {:.1} s",
        r.terminals,
        r.rule,
        r.elapsed_s
    );
    say!("  sent               {}", r.sent);
    say!("  admitted           {}", r.admitted);
    say!(
        "  answered           {} ({:.0}/s)",
        r.answered,
        r.answered_per_s
    );
    say!("  connection excess  {}", r.connection_excess);
    for (kind, n) in &r.answers {
        say!("    answer {kind:<20} {n}");
    }
    for (kind, n) in &r.errors {
        say!("    error {kind:<21} {n}");
    }
    say!("  lost               {}", r.lost);
    say!("  cards issued       {}/{}", r.issued, r.cards);
    say!("  chip/system disagreements {}", r.disagreements);
    say!(
        "  blocked CS-minutes {:.1} ({} blocks)",
        r.blocked_cs_minutes,
        r.blocks
    );
    let l = &r.latency_ms;
    say!(
        "  latency ms         p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        l.p50,
        l.p90,
        l.p99,
        l.p999,
        l.max
    );
}
