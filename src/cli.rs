//! The command line: `demo`, `serve`, `check` and `translate`.
//!
//! Parsed by hand: a few subcommands with a handful of flags do not earn a parser dependency.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{self, Overrides};
use crate::demo::{DemoDirectory, Store};
use crate::metrics::Metrics;
use crate::reload::Live;
use crate::startup::build_tenants;

/// Exit code for bad usage or configuration (EX_USAGE / EX_CONFIG style).
pub const EXIT_CONFIG: i32 = 64;

const USAGE: &str = "\
scimgate: a SCIM 2.0 gateway in front of a legacy REST directory

USAGE:
  scimgate demo  [--listen ADDR] [--admin-listen ADDR] [--token TOKEN] [--mappings DIR]
                 [--seed-users N]
      Starts the gateway and the bundled example directory in one process.
      --seed-users N adds N generated users (user1@example.com ...) to the demo data.
  scimgate serve --config FILE [--listen ADDR] [--admin-listen ADDR] [--token TOKEN]
                 [--backend-url URL] [--mappings DIR]
      Serves SCIM in front of the directory the config describes.
  scimgate check --config FILE [--token TOKEN] [--mappings DIR]
      Validates the config and every mapping file; prints all problems. A token is
      required as for serve (tokens often come from the environment or a Secret).
  scimgate translate --config FILE [--tenant NAME] [--record FILE] [--body FILE] METHOD PATH
      Prints the backend calls one SCIM request would make, without sending them. PATH is
      relative to the tenant's base path (/Users?filter=...); the body of POST, PUT and
      PATCH is read from --body or stdin. --record FILE is the directory's current record
      (as its by-id GET returns it) that PUT, PATCH, GET and DELETE of PATH's id read;
      without it that read answers a record holding only its id.

With a tenants: list in the config, --token, --backend-url and --mappings apply to the
tenant --tenant NAME names. SIGHUP reloads the config file and every mapping (serve, demo).

Flags override the config file and SCIMGATE__* environment variables
(SCIMGATE__LISTEN, SCIMGATE__AUTH__TOKENS, SCIMGATE__BACKEND__URL, ...).
--admin-listen ADDR serves /metrics, /livez and /readyz (default 127.0.0.1:9090 for serve,
a free port for demo; an empty value turns the admin listener off).
";

/// Parsed command line.
#[derive(Debug, Default)]
struct Args {
    command: String,
    config: Option<PathBuf>,
    listen: Option<String>,
    admin_listen: Option<String>,
    tokens: Vec<String>,
    backend_url: Option<String>,
    mappings: Option<String>,
    tenant: Option<String>,
    record: Option<PathBuf>,
    body: Option<PathBuf>,
    /// Arguments that are not flags (translate's METHOD and PATH).
    positional: Vec<String>,
    /// `demo` only: generated users added to the example directory.
    seed_users: usize,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = argv.iter();
    args.command = it.next().cloned().ok_or("no command given")?;
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (flag.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{name} needs a value"))
        };
        match name {
            "--config" | "-c" => args.config = Some(PathBuf::from(value()?)),
            "--listen" => args.listen = Some(value()?),
            "--admin-listen" => args.admin_listen = Some(value()?),
            "--token" => args.tokens.push(value()?),
            "--backend-url" => args.backend_url = Some(value()?),
            "--mappings" => args.mappings = Some(value()?),
            "--tenant" => args.tenant = Some(value()?),
            "--record" => args.record = Some(PathBuf::from(value()?)),
            "--body" => args.body = Some(PathBuf::from(value()?)),
            other if !other.starts_with('-') || other == "-" => args.positional.push(flag.clone()),
            "--seed-users" => {
                let raw = value()?;
                args.seed_users = raw
                    .parse()
                    .map_err(|_| format!("--seed-users needs a number, not {raw:?}"))?;
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

/// Runs the command line; returns the process exit code.
pub async fn run(argv: Vec<String>) -> i32 {
    if argv.is_empty()
        || argv
            .iter()
            .any(|a| a == "--help" || a == "-h" || a == "help")
    {
        print!("{USAGE}");
        return if argv.is_empty() { EXIT_CONFIG } else { 0 };
    }
    if argv.iter().any(|a| a == "--version" || a == "-V") {
        println!("scimgate {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return EXIT_CONFIG;
        }
    };
    if args.command != "translate" {
        if let Some(extra) = args.positional.first() {
            eprintln!("error: unexpected argument {extra:?}\n\n{USAGE}");
            return EXIT_CONFIG;
        }
    }
    match args.command.as_str() {
        "translate" => translate_command(args).await,
        "demo" => demo(args).await,
        "serve" => serve(args).await,
        "check" => check(args),
        other => {
            eprintln!("error: unknown command {other:?}\n\n{USAGE}");
            EXIT_CONFIG
        }
    }
}

fn report(problems: &[String]) -> i32 {
    for p in problems {
        eprintln!("error: {p}");
    }
    EXIT_CONFIG
}

fn overrides(args: &Args) -> Overrides {
    Overrides {
        listen: args.listen.clone(),
        admin_listen: args.admin_listen.clone(),
        tokens: args.tokens.clone(),
        backend_url: args.backend_url.clone(),
        mappings: args.mappings.clone(),
        tenant: args.tenant.clone(),
    }
}

fn check(args: Args) -> i32 {
    let Some(file) = &args.config else {
        return report(&["check needs --config FILE".into()]);
    };
    let loaded = match config::load(Some(file), &overrides(&args)) {
        Ok(l) => l,
        Err(problems) => return report(&problems),
    };
    let metrics = match Metrics::new() {
        Ok(m) => Arc::new(m),
        Err(e) => return report(&[format!("metrics: {e}")]),
    };
    match build_tenants(&loaded, metrics, &[]) {
        Ok(tenants) => {
            for (tenant, settings) in tenants.iter().zip(&loaded.tenants) {
                println!(
                    "ok: tenant {} at {}: the mappings in {} are valid ({} User and {} Group attributes mapped)",
                    tenant.name,
                    tenant.base_path,
                    loaded.mappings_dir_of(settings).display(),
                    tenant.mappings.users.attributes.len(),
                    tenant.mappings.groups.attributes.len()
                );
            }
            println!("ok: {} is valid", file.display());
            0
        }
        Err(problems) => report(&problems),
    }
}

async fn translate_command(args: Args) -> i32 {
    let Some(file) = &args.config else {
        return report(&["translate needs --config FILE".into()]);
    };
    let [method, path] = args.positional.as_slice() else {
        return report(&["translate needs METHOD and PATH, e.g. translate --config c.yaml POST /Users < body.json".into()]);
    };
    let Ok(method) = method.to_ascii_uppercase().parse::<hyper::Method>() else {
        return report(&[format!("translate: {method:?} is not an HTTP method")]);
    };
    let body = if matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        let read = match &args.body {
            Some(f) if f.as_os_str() != "-" => {
                std::fs::read(f).map_err(|e| format!("--body: cannot read {}: {e}", f.display()))
            }
            _ => {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                    .map(|_| buf)
                    .map_err(|e| format!("cannot read the body from stdin: {e}"))
            }
        };
        match read {
            Ok(b) => Some(b),
            Err(e) => return report(&[e]),
        }
    } else {
        None
    };
    let record = match &args.record {
        None => None,
        Some(f) => match std::fs::read(f).map_err(|e| e.to_string()).and_then(|b| {
            serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| e.to_string())
        }) {
            Ok(v) => Some(v),
            Err(e) => return report(&[format!("--record {}: {e}", f.display())]),
        },
    };
    let loaded = match config::load(Some(file), &overrides(&args)) {
        Ok(l) => l,
        Err(problems) => return report(&problems),
    };
    let request = crate::translate::ScimRequest {
        method,
        path: path.clone(),
        body,
        record,
    };
    match crate::translate::translate(&loaded, args.tenant.as_deref(), request).await {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(problems) => report(&problems),
    }
}

/// A loaded configuration with its live tenant set and bound listeners.
struct Started {
    live: Arc<Live>,
    listener: tokio::net::TcpListener,
    /// `None` when `admin_listen` is empty.
    admin: Option<tokio::net::TcpListener>,
}

/// Loads the settings, builds the tenant and binds the listeners, reporting every problem.
async fn start(
    file: Option<&std::path::Path>,
    overrides: &Overrides,
) -> Result<Started, Vec<String>> {
    let loaded = config::load(file, overrides)?;
    crate::trace::init(&loaded.settings.log.format, &loaded.settings.log.level);
    let metrics = Arc::new(Metrics::new().map_err(|e| vec![format!("metrics: {e}")])?);
    let tenants = build_tenants(&loaded, metrics.clone(), &[])?;
    let listener = tokio::net::TcpListener::bind(&loaded.settings.listen)
        .await
        .map_err(|e| {
            vec![format!(
                "listen: cannot bind {}: {e}",
                loaded.settings.listen
            )]
        })?;
    let admin_addr = &loaded.settings.admin_listen;
    let admin = if admin_addr.is_empty() {
        None
    } else {
        Some(
            tokio::net::TcpListener::bind(admin_addr)
                .await
                .map_err(|e| vec![format!("admin_listen: cannot bind {admin_addr}: {e}")])?,
        )
    };
    let live = Live::new(loaded, tenants, metrics.clone(), overrides.clone());
    Ok(Started {
        live,
        listener,
        admin,
    })
}

async fn serve(args: Args) -> i32 {
    let Some(file) = &args.config else {
        return report(&["serve needs --config FILE".into()]);
    };
    let started = match start(Some(file), &overrides(&args)).await {
        Ok(started) => started,
        Err(problems) => return report(&problems),
    };
    let loaded = started.live.loaded();
    let s = &loaded.settings;
    for t in &loaded.tenants {
        tracing::info!(tenant = %t.name, base_path = %t.base_path, backend = %t.backend.url, "Tenant loaded.");
    }
    tracing::info!(addr = %s.listen, admin = %s.admin_listen, "Serving SCIM.");
    run_until_signal(started).await
}

async fn demo(args: Args) -> i32 {
    let mut store = Store::seeded();
    store.seed_bulk(args.seed_users);
    let directory = DemoDirectory::new(store, None);
    let dir_listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return report(&[format!("cannot bind the example directory: {e}")]),
    };
    let dir_addr = match dir_listener.local_addr() {
        Ok(a) => a,
        Err(e) => return report(&[format!("example directory address: {e}")]),
    };
    tokio::spawn(directory.serve(dir_listener, std::future::pending()));

    // Flags, then SCIMGATE__* (listen defaults to 127.0.0.1:8080 in the settings); a random
    // token only when neither gives one.
    let env_set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let mut tokens = args.tokens.clone();
    if tokens.is_empty() && !env_set("SCIMGATE__AUTH__TOKENS") {
        tokens.push(random_token());
    }
    let admin_listen = match &args.admin_listen {
        Some(a) => Some(a.clone()),
        // The demo must start even when 9090 is taken: any free port, printed below.
        None if !env_set("SCIMGATE__ADMIN_LISTEN") => Some("127.0.0.1:0".into()),
        None => None,
    };
    let overrides = Overrides {
        listen: args.listen.clone(),
        admin_listen,
        tokens,
        backend_url: Some(format!("http://{dir_addr}")),
        mappings: Some(args.mappings.clone().unwrap_or_else(default_demo_mappings)),
        tenant: args.tenant.clone(),
    };
    let started = match start(args.config.as_deref(), &overrides).await {
        Ok(started) => started,
        Err(problems) => return report(&problems),
    };
    let addr: SocketAddr = started
        .listener
        .local_addr()
        .unwrap_or_else(|_| ([127, 0, 0, 1], 0).into());
    let loaded = started.live.loaded();
    let Some(tenant) = loaded.tenants.first() else {
        return report(&["demo: no tenant configured".into()]);
    };
    let base = format!("http://{addr}{}", tenant.base_path);
    println!("scimgate demo is running.");
    println!("  SCIM base URL (Tenant URL): {base}");
    let token = tenant.auth.tokens.first().cloned().unwrap_or_default();
    println!("  Secret Token:               {token}");
    println!("  Example directory API:      http://{dir_addr}/api/users");
    if let Some(admin) = started.admin.as_ref().and_then(|l| l.local_addr().ok()) {
        println!("  Metrics:                    http://{admin}/metrics");
    }
    println!();
    println!("Try:");
    println!("  curl -s -H 'Authorization: Bearer {token}' '{base}/Users?filter=userName%20eq%20%22alice@example.com%22'");
    println!();
    println!("Press Ctrl-C to stop.");
    run_until_signal(started).await
}

/// The demo mappings: `./mappings/demo`, else next to the repository the binary was built in.
fn default_demo_mappings() -> String {
    let local = PathBuf::from("mappings/demo");
    if local.join("users.yaml").exists() {
        return local.display().to_string();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("mappings/demo")
        .display()
        .to_string()
}

fn random_token() -> String {
    (0..32)
        .map(|_| {
            let n = fastrand::u8(0..62);
            char::from(match n {
                0..=9 => b'0' + n,
                10..=35 => b'a' + n - 10,
                _ => b'A' + n - 36,
            })
        })
        .collect()
}

/// Serves SCIM (and the admin endpoints) until SIGTERM/Ctrl-C, reloading on SIGHUP, then
/// drains in-flight requests for at most `shutdown_timeout`. Exit code 0 after a signal, 1
/// if serving failed.
async fn run_until_signal(started: Started) -> i32 {
    let Started {
        live,
        listener,
        admin,
    } = started;
    let loaded = live.loaded();
    let grace = config::parse_duration(&loaded.settings.shutdown_timeout).unwrap_or_default();
    let drain = config::parse_duration(&loaded.settings.shutdown_drain).unwrap_or_default();
    tokio::spawn(crate::reload::reload_on_sighup(live.clone()));
    // One signal, two listeners: a watch channel lets both wait for it.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let draining = live.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        // Keep serving while readiness fails: closing the listener at once would reset
        // the connections already queued in its backlog.
        draining.start_draining();
        tokio::time::sleep(drain).await;
        tracing::info!("Drain over: closing listeners, waiting for in-flight requests.");
        let _ = stop.send(true);
    });
    let on_stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    };
    if let Some(admin) = admin {
        let router = live.admin_router();
        let stop = on_stop(stopped.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::server::serve(admin, router, stop).await {
                tracing::error!(error = %e, "Admin listener failed.");
            }
        });
    }
    let router = live.scim_router();
    let limits = crate::server::listener::InboundLimits::from_settings(&loaded.settings.limits);
    match crate::server::listener::serve_with_limits(
        listener,
        router,
        on_stop(stopped),
        grace,
        limits,
    )
    .await
    {
        Ok(()) => {
            tracing::info!("Stopped.");
            0
        }
        Err(e) => {
            eprintln!("error: server failed: {e}");
            1
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("Shutting down: draining (readyz answers 503).");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags_parse_in_both_forms() {
        let a = parse_args(&argv(&[
            "serve",
            "--config",
            "c.yaml",
            "--listen=127.0.0.1:1",
            "--token",
            "t",
        ]))
        .unwrap();
        assert_eq!(a.command, "serve");
        assert_eq!(a.config, Some(PathBuf::from("c.yaml")));
        assert_eq!(a.listen.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(a.tokens, vec!["t".to_string()]);
        let a = parse_args(&argv(&["demo", "--admin-listen", "", "--seed-users=250"])).unwrap();
        assert_eq!(a.admin_listen.as_deref(), Some(""));
        assert_eq!(a.seed_users, 250);
    }

    #[test]
    fn unknown_flags_and_missing_values_are_errors() {
        assert!(parse_args(&argv(&["serve", "--nope"])).is_err());
        assert!(parse_args(&argv(&["serve", "--config"])).is_err());
        assert!(parse_args(&argv(&["demo", "--seed-users", "many"])).is_err());
    }

    #[test]
    fn random_tokens_are_long_and_alphanumeric() {
        let t = random_token();
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
