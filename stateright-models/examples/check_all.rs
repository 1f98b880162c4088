//! Prints the verdict matrix and timelines:
//! `cargo run --release -p stateright-models --example check_all -- [spec|all] [preset|all] [k=v ...]`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let spec = args.first().map_or("all", String::as_str);
    let preset = args.get(1).map_or("all", String::as_str);
    let sizes = args.get(2..).unwrap_or_default();
    let selection = match stateright_models::CheckSelection::parse(spec, preset, sizes) {
        Ok(selection) => selection,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let started = std::time::Instant::now();
    let results = stateright_models::run_checks(&selection, &mut |_| {});
    print!("{}", stateright_models::render_report(&results));
    println!("total {:?}", started.elapsed());
}
