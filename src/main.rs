//! The `scimgate` binary: parse the command line and run. Everything else is in the library.

#[tokio::main]
async fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let code = scimgate::cli::run(argv).await;
    std::process::exit(code);
}
