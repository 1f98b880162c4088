//! Prints the verdict matrix and timelines at default sizes:
//! `cargo run --release -p stateright-models --example check_all`.
fn main() {
    let selection = stateright_models::CheckSelection::all();
    let started = std::time::Instant::now();
    let results = stateright_models::run_checks(&selection, &mut |_| {});
    print!("{}", stateright_models::render_report(&results));
    println!("total {:?}", started.elapsed());
}
