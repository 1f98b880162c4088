//! The HTML page of `chukei review --out DIR`: one self-contained file (inline
//! CSS, SVG and a few lines of script; no network) to attach to a change
//! under review. The verdict diff as a table, then each counterexample as a
//! sequence diagram (`chukei explain --format svg`), its replay command, a
//! link to its trace file next to the page and the trace itself inline.

use crate::explain::{diagram_of, render, Format};
use review::{Counterexample, Flip, Review, Row, Side};
use std::fmt::Write as _;
use std::path::Path;

/// The page for `review`, whose trace files were written under `dir`.
pub fn render_page(review: &Review, dir: &Path) -> String {
    let mut out = String::new();
    let title = format!(
        "chukei review: {} -> {}",
        review.base.name, review.change.name
    );
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        html(&title),
        html(&title)
    );
    out += &configurations(review);
    out += &summary(review);
    out += &verdict_table(review);
    out += "<h2>Counterexamples</h2>\n";
    // What the change is about first: the bugs it fixes, then those it
    // introduces, then those it leaves.
    for flip in [Flip::Fixes, Flip::Breaks, Flip::StillViolated] {
        for (i, row) in review
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.flip == flip)
        {
            if let Some(c) = row.counterexample() {
                out += &counterexample(review, row, c, i, dir);
            }
        }
    }
    out += &format!("<script>{SCRIPT}</script>\n</body></html>\n");
    out
}

fn configurations(review: &Review) -> String {
    let side = |role: &str, s: &Side| {
        let variant = s.variant.as_ref().map_or(String::new(), |v| {
            format!(" &mdash; variant: {}", html(&v.description))
        });
        format!(
            "<li id=\"{role}\"><b>{role}</b> <span class=\"config\">{}</span> <code>{}</code>{variant}</li>\n",
            html(&s.name),
            html(&s.cli_args)
        )
    };
    let mut out = format!(
        "<ul class=\"sides\">\n{}{}</ul>\n",
        side("base", &review.base),
        side("change", &review.change)
    );
    if review.switches.is_empty() {
        out += "<p id=\"switches\">The same switch set on both sides.</p>\n";
        return out;
    }
    out += "<table id=\"switches\"><tr><th>switch</th><th>base</th><th>change</th></tr>\n";
    for s in &review.switches {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            s.switch, s.base, s.change
        );
    }
    out + "</table>\n"
}

fn summary(review: &Review) -> String {
    let s = review.summary;
    format!(
        "<p id=\"summary\">The change <b>fixes {}</b>, <b>breaks {}</b>, leaves {} violated \
         and {} holding (every spec and property at default sizes, exhaustively, under {} of \
         the environment assumptions; every root cause on the real relay, seeded search: seed {}, \
         {} schedules each).</p>\n\
         <div id=\"filters\">{}</div>\n",
        s.fixes,
        s.breaks,
        s.still_violated,
        s.still_holds,
        html(&review::assumptions_in_words(review)),
        review.seed,
        review.budget,
        Flip::ALL
            .iter()
            .map(|f| format!(
                "<button type=\"button\" data-flip=\"{0}\" class=\"on {0}\">{0}</button>",
                f.name()
            ))
            .collect::<String>()
    )
}

fn verdict_table(review: &Review) -> String {
    let mut out = String::from(
        "<table id=\"verdicts\"><tr><th>checker</th><th>spec</th><th>property</th>\
         <th>assumptions</th><th>base</th><th>change</th><th>the change</th><th>counterexample</th></tr>\n",
    );
    for (i, row) in review.rows.iter().enumerate() {
        let evidence = row.counterexample().map_or(String::new(), |c| {
            format!("<a href=\"#cx-{i}\">{}</a>", steps(c))
        });
        let _ = writeln!(
            out,
            "<tr class=\"verdict {flip}\" data-flip=\"{flip}\" data-checker=\"{}\" data-spec=\"{}\" \
             data-property=\"{}\" data-assumptions=\"{assumed}\"><td>{}</td><td>{}</td><td>{}</td>\
             <td>{assumed}</td><td class=\"{}\">{}</td>\
             <td class=\"{}\">{}</td><td class=\"flip\">{flip}</td><td>{evidence}</td></tr>",
            row.checker.name(),
            html(&row.spec),
            html(&row.property),
            row.checker.name(),
            html(&row.spec),
            html(&row.cause.as_ref().map_or(row.property.clone(), |c| {
                format!("{c} ({})", row.property)
            })),
            row.base,
            row.verdict_word(row.base),
            row.change,
            row.verdict_word(row.change),
            flip = row.flip.name(),
            assumed = html(row.assumed.as_deref().unwrap_or("-")),
        );
    }
    out + "</table>\n"
}

fn steps(c: &Counterexample) -> String {
    match c.cycle_start {
        Some(k) => format!("{k}+{} steps", c.steps - k),
        None => format!("{} steps", c.steps),
    }
}

fn counterexample(review: &Review, row: &Row, c: &Counterexample, i: usize, dir: &Path) -> String {
    let on = match row.flip {
        Flip::Fixes => &review.base.name,
        _ => &review.change.name,
    };
    let diagram = match diagram_of(&c.trace) {
        Ok(d) => render(&d, Format::Svg),
        Err(e) => format!(
            "<p class=\"error\">no diagram: {}</p>",
            html(&format!("{e:#}"))
        ),
    };
    let link = c.trace_file.as_ref().map_or(String::new(), |file| {
        let relative = Path::new(file)
            .strip_prefix(dir)
            .map_or(file.clone(), |p| p.display().to_string());
        format!(
            "<p>trace file: <a class=\"trace-file\" href=\"{0}\">{0}</a> \
             (<code>chukei replay {1}</code>, <code>chukei explain {1}</code>)</p>\n",
            html(&relative),
            html(file)
        )
    });
    let trace = c.trace.to_json_pretty();
    format!(
        "<section class=\"counterexample {flip}\" id=\"cx-{i}\" data-flip=\"{flip}\" \
         data-spec=\"{}\" data-property=\"{}\" data-assumptions=\"{}\" data-steps=\"{}\">\n\
         <h3>[{flip}] {} {} on {} ({}, {})</h3>\n\
         <p>replay: <code>{}</code></p>\n{link}\
         <div class=\"diagram\">{diagram}</div>\n\
         <details><summary>the steps in words</summary><pre>{}</pre></details>\n\
         <details><summary>trace file (JSON)</summary><pre class=\"trace\">{}</pre></details>\n\
         </section>\n",
        html(&row.spec),
        html(&row.property),
        html(row.assumed.as_deref().unwrap_or("-")),
        c.steps,
        html(&row.title()),
        row.verdict_word(model::Verdict::Violated),
        html(on),
        steps(c),
        c.shortest,
        html(&c.replay),
        html(&c.lines.join("\n")),
        html(&trace),
        flip = row.flip.name(),
    )
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
code,pre{font-family:monospace;font-size:12px}pre{background:#f6f6f6;padding:.5em;overflow:auto}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}\
td.violated{color:#a00}td.holds{color:#070}\
tr.fixes td.flip,button.fixes{background:#d7f5d7}tr.breaks td.flip,button.breaks{background:#ffd0d0}\
tr.still-violated td.flip,button.still-violated{background:#fff0c8}\
button{margin-right:.5em;border:1px solid #888;padding:3px 8px;cursor:pointer}button:not(.on){opacity:.4}\
section.counterexample{border-top:2px solid #ccc;margin-top:1.5em}.diagram{overflow:auto}\
.hidden{display:none}";

/// Counts each kind into its filter button and hides or shows the rows and
/// counterexamples of a kind when its button is clicked.
const SCRIPT: &str = r#"
for (const button of document.querySelectorAll('#filters button')) {
  const flip = button.dataset.flip;
  const rows = document.querySelectorAll('tr.verdict[data-flip="' + flip + '"]');
  button.textContent = flip + ' (' + rows.length + ')';
  button.addEventListener('click', () => {
    const on = button.classList.toggle('on');
    for (const el of document.querySelectorAll('[data-flip="' + flip + '"]:not(button)')) {
      el.classList.toggle('hidden', !on);
    }
  });
}
"#;
