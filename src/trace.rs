//! Log set-up: JSON lines in containers, readable text in a terminal; level from the config
//! or `RUST_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `format` is `auto`, `json` or `text`.
pub fn init(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let json = match format {
        "json" => true,
        "text" => false,
        _ => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = if json {
        // `span` already holds the request span; the `spans` list repeated it on every line
        // at a twentieth of a cache-hit GET's cost (callgrind).
        builder
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
}
