//! `gatehouse serve`: open, bind, print where everything is, serve until a signal.

use super::*;

pub(super) fn serve(file: Option<&Path>) -> anyhow::Result<()> {
    let config = load(file)?;
    startup::prepare_data_dir(&config.storage.data_dir)?;
    let _log_guard = crate::logging::init(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listen = config.server.listen;
        let std_listener = std::net::TcpListener::bind(listen).with_context(|| {
            format!("cannot listen on {listen} (is another process using this address?)")
        })?;
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let bound = listener.local_addr()?;
        let mut config = config;
        if config.server.listen.port() == 0 && !config.is_production() {
            // An ephemeral port (tests, side-by-side runs): links must name the real one.
            config.server.public_url = format!("http://{bound}");
        }
        let app = tokio::task::spawn_blocking(move || App::open(config)).await??;
        // Listen for signals before announcing the server, so that a SIGTERM sent as soon as
        // the banner appears is a clean shutdown and not the default kill.
        let shutdown = shutdown_signal()?;
        print_banner(app.state().config.as_ref(), bound, app.bootstrap_link());
        app.run(listener, shutdown).await
    })?;
    tracing::info!("stopped cleanly");
    Ok(())
}

pub(super) fn print_banner(
    config: &Config,
    bound: std::net::SocketAddr,
    bootstrap_link: Option<&str>,
) {
    let url = &config.server.public_url;
    let data = config.storage.data_dir.display();
    if !config.is_production() {
        println!("============================================================");
        println!(" DEVELOPMENT MODE: not for real users.");
        println!(" Mail goes to {data}/mail/new, SMS to {data}/sms.jsonl.");
        println!("============================================================");
        tracing::warn!("running in development mode");
    }
    println!("Gatehouse {} is serving on {bound}", env!("CARGO_PKG_VERSION"));
    println!("  Web UI:      {url}/");
    println!("  Swagger UI:  {url}/docs");
    println!("  OpenAPI:     {url}/openapi.json");
    println!("  Data:        {data}");
    if let Some(link) = bootstrap_link {
        println!("There is no admin yet. Create the first one within an hour at:");
        println!("  Bootstrap:   {link}");
        println!("(or run `gatehouse admin create --email ...`)");
        tracing::warn!(bootstrap_link = %link, "no admin yet: one-time bootstrap link (valid 1 h)");
    }
    tracing::info!(listen = %bound, public_url = %url, "serving");
}

/// Completes at the first SIGTERM or SIGINT. The handlers are installed when this is called.
pub(super) fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received; shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM received; shutting down"),
        }
    })
}
