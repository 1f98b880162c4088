//! `chukei explore`: the Explorer, a small web page on 127.0.0.1.
//!
//! The verdicts, paths and states come from
//! [`stateright_models::Explorer`] (what `chukei check` decides); this file
//! serves them: HTML pages rendered on the server, and the same data as
//! JSON under `/api/`.
//!
//! Routes: `/` (spec, configuration, sizes, every property's verdict),
//! `/property/NAME[?step=K]` (the counterexample or example, step K
//! selected with its state and successors), `/state/ID` (any state, its
//! successors to browse on), `/api/summary`, `/api/property/NAME`,
//! `/api/state/ID`.

use crate::config_args::ConfigArgs;
use crate::one;
use anyhow::{bail, Context, Result};
use model::{PropertyKind, SpecName, Verdict};
use stateright_models::explore::{PropertyView, StateView, Step, Summary};
use stateright_models::{listen, Explorer};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Spec.
    #[arg(long, value_parser = one::<SpecName>())]
    spec: SpecName,
    #[command(flatten)]
    config: ConfigArgs,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Size overrides, as for `check`.
    #[arg(long = "size", value_name = "K=V", num_args = 1..)]
    sizes: Vec<String>,
    /// Print the URL of this property's page (its counterexample) instead
    /// of the overview's.
    #[arg(long, value_name = "NAME")]
    property: Option<String>,
    /// Environment assumption (repeatable), as for `check` but one value
    /// each, e.g. `--assume demand=continuous`.
    #[arg(long = "assume", value_name = "NAME=VALUE")]
    assumptions: Vec<String>,
    /// Fairness of the liveness properties (the same as `--assume
    /// fairness=...`).
    #[arg(long, value_name = "weak|none", value_parser = ["weak", "none"])]
    fairness: Option<String>,
    /// The same limits as `check`: a property a stopped exploration could
    /// not decide is shown `inconclusive`, with the limit that stopped it.
    #[command(flatten)]
    limits: crate::check::LimitArgs,
    /// No progress on stderr while the graph is explored (as `check`).
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let config = match args.config.configs()?.as_slice() {
        [one] => one.clone(),
        _ => {
            bail!("explore shows one configuration: give --preset P (not `all`) or --variant FILE")
        }
    };
    // Sizes, property and port are checked before anything is printed; the
    // URL has the port really listened on.
    let mut assumptions = args.assumptions.clone();
    assumptions.extend(args.fairness.iter().map(|f| format!("fairness={f}")));
    let listener = listen(
        args.spec,
        &config,
        &args.sizes,
        &assumptions,
        args.property.as_deref(),
        args.port,
    )?;
    let port = listener.local_addr().context("reading the port")?.port();
    let limits = args.limits.limits();
    // A large graph takes a while before the page can be served: the same
    // progress as `check` (a line every few seconds in a log).
    let mut progress = crate::check::progress_printer(args.quiet);
    let mut explorer = Explorer::assuming_within(
        args.spec,
        config.clone(),
        &args.sizes,
        &assumptions,
        limits,
        &mut progress,
    )?;
    let page = args
        .property
        .as_ref()
        .map_or(String::new(), |p| format!("property/{p}"));
    say!(
        "Explorer for {} on {} at http://127.0.0.1:{port}/{page} (Ctrl-C to stop)",
        args.spec,
        config.name(),
    );
    let server = tiny_http::Server::from_listener(listener, None)
        .map_err(|e| anyhow::anyhow!("starting the Explorer's server: {e}"))?;
    for request in server.incoming_requests() {
        let reply = route(&mut explorer, request.url());
        let content_type = tiny_http::Header::from_bytes("Content-Type", reply.content_type)
            .expect("a valid header");
        let response = tiny_http::Response::from_string(reply.body)
            .with_status_code(reply.status)
            .with_header(content_type);
        // A browser that went away is no reason to stop serving.
        let _ = request.respond(response);
    }
    Ok(ExitCode::SUCCESS)
}

/// A response: status, content type and body.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
}

impl Reply {
    fn html(body: String) -> Reply {
        Reply {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body,
        }
    }

    fn json(value: &impl serde::Serialize) -> Reply {
        Reply {
            status: 200,
            content_type: "application/json",
            body: serde_json::to_string_pretty(value).expect("views serialize"),
        }
    }

    fn not_found(summary: &Summary, what: &str) -> Reply {
        Reply {
            status: 404,
            content_type: "text/html; charset=utf-8",
            body: page(
                summary,
                "not found",
                &format!("<p class=error>{}</p>", escape(what)),
            ),
        }
    }
}

/// Answers one request URL.
fn route(explorer: &mut Explorer, url: &str) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let step = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("step="))
        .and_then(|k| k.parse::<usize>().ok());
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let summary = explorer.summary.clone();
    match segments.as_slice() {
        [""] => Reply::html(overview(&summary)),
        ["api", "summary"] => Reply::json(&summary),
        ["property", name] | ["api", "property", name] => {
            let Some(view) = explorer.property(name) else {
                return Reply::not_found(&summary, &format!("no property `{name}`"));
            };
            if segments[0] == "api" {
                return Reply::json(&view);
            }
            let selected = step
                .unwrap_or(view.steps.len().saturating_sub(1))
                .min(view.steps.len().saturating_sub(1));
            let detail = view
                .steps
                .get(selected)
                .and_then(|s| explorer.state(s.state.id));
            Reply::html(property_page(&summary, &view, selected, detail.as_ref()))
        }
        ["state", id] | ["api", "state", id] => {
            let Some(view) = id.parse().ok().and_then(|id| explorer.state(id)) else {
                return Reply::not_found(&summary, &format!("no state `{id}` shown yet"));
            };
            if segments[0] == "api" {
                return Reply::json(&view);
            }
            Reply::html(state_page(&summary, &view))
        }
        _ => Reply::not_found(&summary, &format!("no page `{path}`")),
    }
}

/// The overview: configuration, sizes, every property's verdict.
fn overview(summary: &Summary) -> String {
    let mut body = String::from(
        "<h2>Properties</h2><table id=properties><tr><th>property</th><th>kind</th>\
         <th>verdict</th><th>expected</th><th>checker</th><th>states checked</th>\
         <th>steps</th></tr>",
    );
    for p in &summary.properties {
        body += &format!(
            "<tr><td><a href=\"/property/{name}\">{name}</a></td><td>{kind}</td>\
             <td class=\"verdict {verdict}\">{verdict}</td><td>{expected}</td>\
             <td>{checker}</td><td>{states}</td><td>{steps}</td></tr>",
            name = p.name,
            kind = kind_name(p.kind),
            verdict = p.verdict,
            expected = p.expected.map_or("-".to_string(), |v| v.to_string()),
            checker = p.checker,
            states = p.states,
            steps = p.length.as_deref().unwrap_or("-"),
        );
    }
    body += "</table>";
    body += &stopped_notes(summary);
    body += "<h2>Initial states</h2><ul>";
    for s in &summary.initial {
        body += &format!(
            "<li><a href=\"/state/{}\">state {}</a>: <code>{}</code></li>",
            s.id,
            s.id,
            escape(&s.text)
        );
    }
    body += "</ul>";
    page(summary, "overview", &body)
}

/// Under the overview's table: which properties a limit left undecided,
/// and where each check stopped.
fn stopped_notes(summary: &Summary) -> String {
    let notes: Vec<String> = summary
        .properties
        .iter()
        .filter_map(|p| {
            let stopped = p.stopped.as_ref()?;
            Some(format!(
                "<li>{}: {} ({})</li>",
                p.name,
                p.verdict,
                escape(stopped)
            ))
        })
        .collect();
    if notes.is_empty() {
        return String::new();
    }
    format!(
        "<h2>Stopped by a limit</h2><ul id=stopped>{}</ul>",
        notes.concat()
    )
}

/// A property: its verdict, the path that shows it with step `selected`
/// highlighted, and that step's state with its successors.
fn property_page(
    summary: &Summary,
    view: &PropertyView,
    selected: usize,
    detail: Option<&StateView>,
) -> String {
    let p = &view.summary;
    let mut body = format!(
        "<h2>{name}: <span id=verdict class=\"verdict {verdict}\">{verdict}</span></h2>\
         <p id=decided>{kind} property, {verdict} \u{2014} checked {states} {unit} ({checker}){expected}</p>",
        name = p.name,
        verdict = p.verdict,
        kind = kind_name(p.kind),
        states = p.states,
        unit = if p.symmetry { "symmetry classes of states" } else { "states" },
        checker = p.checker,
        expected = match p.expected {
            Some(e) if e == p.verdict => ", as recorded".to_string(),
            Some(e) => format!(", <strong>UNEXPECTED</strong>: recorded {e}"),
            None => ", no verdict recorded".to_string(),
        }
    );
    if let Some(fairness) = p.fairness {
        body += &format!("<p>Fairness assumed: {}</p>", escape(fairness));
    }
    if let Some(stopped) = &p.stopped {
        body += &format!("<p id=stopped>The check was {}.</p>", escape(stopped));
    }
    if view.steps.is_empty() {
        body += &format!("<p>{}</p>", holds_in_words(p.kind, p.verdict));
        return page(summary, &p.name, &body);
    }
    body += &format!(
        "<h3>{}: {}, {}</h3>",
        view.path_kind.unwrap_or("path"),
        p.length.as_deref().unwrap_or("0 steps"),
        view.shape.unwrap_or(""),
    );
    body += &steps_table(&p.name, view, selected);
    body += &step_nav(&p.name, selected, view.steps.len());
    if let Some(state) = detail {
        body += &format!("<h3 id=selected-step>After step {selected}</h3>");
        body += &state_detail(state);
    }
    page(summary, &p.name, &body)
}

/// Why a property holds, when no path shows it.
fn holds_in_words(kind: PropertyKind, verdict: Verdict) -> &'static str {
    match (kind, verdict) {
        (PropertyKind::Always, Verdict::Holds) => "No reachable state violates it.",
        (PropertyKind::Eventually, Verdict::Holds) => {
            "No fair behaviour avoids it forever (no fair lasso and no dead end without it)."
        }
        (PropertyKind::Sometimes, Verdict::Violated) => "No reachable state is an example.",
        (_, Verdict::Inconclusive) => {
            "Not decided: a limit stopped the check first (raise it, or give none)."
        }
        _ => "",
    }
}

/// The path as a table, one row per state; the lasso's cycle marked.
fn steps_table(property: &str, view: &PropertyView, selected: usize) -> String {
    let mut table = String::from(
        "<table id=steps><tr><th>step</th><th>action</th><th>state after it</th></tr>",
    );
    for (i, Step { action, state }) in view.steps.iter().enumerate() {
        let class = if i == selected { " class=selected" } else { "" };
        table += &format!(
            "<tr{class}><td><a href=\"/property/{property}?step={i}\">{i}</a></td>\
             <td>{}</td><td><a href=\"/state/{}\">state {}</a>: <code>{}</code></td></tr>",
            escape(action.as_deref().unwrap_or("(initial state)")),
            state.id,
            state.id,
            escape(&state.text),
        );
        if view.cycle_start == Some(i) && i + 1 < view.steps.len() {
            table += &format!(
                "<tr class=cycle><td colspan=3>cycle: the steps after step {i} repeat forever</td></tr>"
            );
        }
    }
    if let Some(k) = view.cycle_start {
        table += &format!(
            "<tr class=cycle><td colspan=3>\u{21bb} back to the state of step {k}</td></tr>"
        );
    }
    table + "</table>"
}

/// Previous/next links (also on the arrow keys).
fn step_nav(property: &str, selected: usize, steps: usize) -> String {
    let link = |id: &str, to: Option<usize>, label: &str| match to {
        Some(k) => format!("<a id={id} href=\"/property/{property}?step={k}\">{label}</a>"),
        None => format!("<span class=disabled>{label}</span>"),
    };
    let prev = link("prev", selected.checked_sub(1), "\u{2190} previous step");
    let next = link(
        "next",
        (selected + 1 < steps).then_some(selected + 1),
        "next step \u{2192}",
    );
    format!(
        "<p class=nav>{prev} \u{00b7} step {selected} of {} \u{00b7} {next}</p>\
         <script>document.addEventListener('keydown', e => {{\
         const a = document.getElementById(e.key === 'ArrowLeft' ? 'prev' : e.key === 'ArrowRight' ? 'next' : '');\
         if (a) a.click(); }});</script>",
        steps.saturating_sub(1)
    )
}

/// One state: its description, the properties it decides, its successors.
fn state_detail(view: &StateView) -> String {
    let mut out = format!(
        "<p class=state>state {}{}: <code>{}</code></p><ul class=conditions>",
        view.state.id,
        if view.initial { " (initial)" } else { "" },
        escape(&view.state.text)
    );
    for c in &view.conditions {
        out += &format!(
            "<li>{} <a href=\"/property/{}\">{}</a>: condition {}{}</li>",
            kind_name(c.kind),
            c.property,
            c.property,
            if c.holds { "true" } else { "false" },
            c.decides
                .map_or(String::new(), |d| format!(" <strong>({d})</strong>")),
        );
    }
    out += "</ul>";
    if view.successors.is_empty() {
        return out + "<p>No successors: a terminal state (the behaviour stays here).</p>";
    }
    out += "<table class=successors><tr><th>successor action</th><th>state</th></tr>";
    for s in &view.successors {
        out += &format!(
            "<tr><td>{}</td><td><a href=\"/state/{}\">state {}</a>: <code>{}</code></td></tr>",
            escape(s.action.as_deref().unwrap_or("")),
            s.state.id,
            s.state.id,
            escape(&s.state.text)
        );
    }
    out + "</table>"
}

fn state_page(summary: &Summary, view: &StateView) -> String {
    let body = format!("<h2>State {}</h2>{}", view.state.id, state_detail(view));
    page(summary, &format!("state {}", view.state.id), &body)
}

fn kind_name(kind: PropertyKind) -> &'static str {
    match kind {
        PropertyKind::Always => "always",
        PropertyKind::Sometimes => "sometimes",
        PropertyKind::Eventually => "eventually",
    }
}

/// The frame of every page: title and header naming spec, configuration,
/// switches, sizes and state counts.
fn page(summary: &Summary, title: &str, body: &str) -> String {
    let switches: Vec<String> = summary
        .switches
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let sizes: Vec<String> = summary
        .sizes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let count = |n: Option<usize>| n.map_or("-".to_string(), |n| n.to_string());
    let variant = summary.variant.as_ref().map_or(String::new(), |v| {
        format!(
            "<p>variant {} (base {}): {}</p>",
            escape(&v.name),
            summary.preset,
            escape(&v.description)
        )
    });
    format!(
        "<!doctype html><html><head><meta charset=utf-8>\
         <title>{title} \u{2014} {spec} on {config} \u{2014} chukei Explorer</title>\
         <style>{STYLE}</style></head><body>\
         <header><h1><a href=\"/\">chukei Explorer</a>: <span id=spec>{spec}</span> on \
         <span id=config>{config}</span></h1>{variant}\
         <p id=setup>switches: {switches} \u{00b7} sizes: {sizes} \u{00b7} reachable states: \
         {reduced} symmetry classes, {full} states</p>\
         <p>again: <code>{command}</code></p></header>\
         <main>{body}</main></body></html>",
        title = escape(title),
        spec = summary.spec,
        config = escape(&summary.config),
        switches = switches.join(", "),
        sizes = sizes.join(", "),
        reduced = count(summary.states_reduced),
        full = count(summary.states_unreduced),
        command = escape(&summary.command),
    )
}

const STYLE: &str = "body{font-family:sans-serif;margin:1em 2em;max-width:80em}\
code{font-size:90%}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;\
text-align:left}.violated{color:#b00;font-weight:bold}.holds{color:#070;font-weight:bold}\
tr.selected{background:#ffd}tr.cycle td{background:#eef;font-style:italic}\
.disabled{color:#aaa}header{border-bottom:1px solid #ccc}";

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::search::Limits;
    use patches::{Config, Preset};

    fn explorer(preset: Preset) -> Explorer {
        Explorer::new(SpecName::IrqOrder, Config::preset(preset), &[], &mut |_| {}).unwrap()
    }

    #[test]
    fn the_lasso_page_marks_its_cycle_and_steps_through_it() {
        let mut e = explorer(Preset::Jan2016);
        let reply = route(&mut e, "/property/hsm_request_completes?step=2");
        assert_eq!(reply.status, 200);
        assert!(reply
            .body
            .contains("class=\"verdict violated\">violated</span>"));
        assert!(reply
            .body
            .contains("cycle: the steps after step 4 repeat forever"));
        assert!(reply.body.contains("back to the state of step 4"));
        assert!(reply
            .body
            .contains("<h3 id=selected-step>After step 2</h3>"));
        assert!(reply
            .body
            .contains("href=\"/property/hsm_request_completes?step=1\">"));
    }

    #[test]
    fn states_and_api_routes_answer_and_unknown_ones_are_404() {
        let mut e = explorer(Preset::Jan2016);
        let initial = route(&mut e, "/state/0");
        assert_eq!(initial.status, 200);
        assert!(initial.body.contains("(initial)"), "{}", initial.body);
        let api = route(&mut e, "/api/property/relay_never_hangs");
        let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
        assert_eq!(json["verdict"], "violated");
        assert_eq!(
            json["steps"].as_array().unwrap().len(),
            5,
            "4 steps after the initial state"
        );
        for url in ["/property/nope", "/state/99999", "/state/x", "/nowhere"] {
            assert_eq!(route(&mut e, url).status, 404, "{url}");
        }
    }

    #[test]
    fn a_limit_shows_inconclusive_never_holds() {
        let limits = Limits {
            max_states: Some(3),
            ..Limits::NONE
        };
        let config = Config::preset(Preset::Jan2016);
        let mut e = Explorer::within(SpecName::IrqOrder, config, &[], limits, &mut |_| {}).unwrap();
        let overview = route(&mut e, "/");
        assert!(
            overview
                .body
                .contains("<td class=\"verdict inconclusive\">inconclusive</td>"),
            "{}",
            overview.body
        );
        assert!(
            !overview.body.contains("verdict holds"),
            "{}",
            overview.body
        );
        assert!(
            overview.body.contains("stopped by --max-states 3"),
            "{}",
            overview.body
        );
        let inconclusive = e
            .summary
            .properties
            .iter()
            .find(|p| p.verdict == Verdict::Inconclusive)
            .expect("a property the limit left undecided")
            .name
            .clone();
        let page = route(&mut e, &format!("/property/{inconclusive}"));
        assert!(
            page.body
                .contains("<p id=stopped>The check was stopped by --max-states 3"),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains("Not decided: a limit stopped the check first"),
            "{}",
            page.body
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
