//! Serves stateright's Explorer: `cargo run -p stateright-models --example explore -- irq-order 2016-01 3000 [k=v ...]`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(spec), Some(preset)) = (args.first(), args.get(1)) else {
        eprintln!("usage: explore SPEC PRESET [PORT] [k=v ...]");
        std::process::exit(2);
    };
    let port = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(3000);
    let sizes = args.get(3..).unwrap_or_default();
    let parsed = spec
        .parse()
        .map_err(|e| format!("{e}"))
        .and_then(|s| preset.parse().map(|p| (s, p)).map_err(|e| format!("{e}")));
    let (spec, preset) = parsed.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2);
    });
    println!("Explorer on http://localhost:{port}/");
    // Serving never returns Ok: the Explorer runs until the process ends.
    let Err(e) = stateright_models::serve_explorer(spec, preset, sizes, port);
    eprintln!("error: {e}");
    std::process::exit(2);
}
