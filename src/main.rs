//! The `loopscope` command: `simulate` predicts a run on the virtual model and prints
//! it like `ab` does (or as JSON); `serve` serves the browser simulator.

#[cfg(not(target_arch = "wasm32"))]
mod serve;

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use clap::{Parser, Subcommand};
    use loopscope::model::config::defaults as d;
    use loopscope::model::{Config, Variant, Work};
    use loopscope::summary;
    use std::path::PathBuf;
    use std::process::ExitCode;

    #[derive(Parser)]
    #[command(
        name = "loopscope",
        version,
        about = "See what async/await, a threadpool and background tasks do to a FastAPI server."
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Predict a run with the virtual-time model and print it like ApacheBench.
        Simulate(SimulateArgs),
        /// Serve the browser simulator (build it first: `make run` does both).
        Serve {
            /// Port to listen on.
            #[arg(long, default_value_t = 8000)]
            port: u16,
            /// Address to bind; 127.0.0.1 keeps it on this machine.
            #[arg(long, default_value = "127.0.0.1")]
            host: String,
            /// Folder holding index.html and www/.
            #[arg(long, default_value = ".")]
            dir: PathBuf,
        },
    }

    #[derive(clap::Args)]
    struct SimulateArgs {
        /// sync_def, blocking, async_io, full_async, background, or all.
        #[arg(long, default_value = "all")]
        variant: String,
        /// Requests in total (ab -n).
        #[arg(short = 'n', long, default_value_t = d::REQUESTS as i64, allow_negative_numbers = true)]
        requests: i64,
        /// Clients sending at once (ab -c); defaults to the number of requests.
        #[arg(short = 'c', long, allow_negative_numbers = true)]
        concurrency: Option<i64>,
        /// fetch_external_data's sleep, ms.
        #[arg(long, default_value_t = d::IO_MS, allow_negative_numbers = true)]
        io_ms: f64,
        /// run_model_prediction's sleep, ms.
        #[arg(long, default_value_t = d::CPU_MS, allow_negative_numbers = true)]
        cpu_ms: f64,
        /// log_prediction_details's sleep, ms.
        #[arg(long, default_value_t = d::BG_MS, allow_negative_numbers = true)]
        bg_ms: f64,
        /// Threadpool tokens (anyio's default limiter: 40).
        #[arg(long, default_value_t = d::TOKENS as i64, allow_negative_numbers = true)]
        tokens: i64,
        /// Print the report as JSON (an array of reports for `all`).
        #[arg(long)]
        json: bool,
    }

    /// A usage error: one line on stderr, exit status 2.
    fn usage_error(message: &str) -> ExitCode {
        eprintln!("loopscope: {message}");
        ExitCode::from(2)
    }

    /// Negative counts become 0 for the core to reject with its own message.
    fn count(x: i64) -> u64 {
        u64::try_from(x).unwrap_or(0)
    }

    fn simulate(a: SimulateArgs) -> ExitCode {
        let variants: Vec<Variant> = if a.variant == "all" {
            Variant::ALL.to_vec()
        } else {
            match a.variant.parse() {
                Ok(v) => vec![v],
                Err(e) => return usage_error(&format!("{e} (or all)")),
            }
        };
        let config = Config {
            variant: variants[0],
            requests: count(a.requests),
            concurrency: count(a.concurrency.unwrap_or(a.requests)),
            io_ms: a.io_ms,
            cpu_ms: a.cpu_ms,
            bg_ms: a.bg_ms,
            tokens: count(a.tokens),
            work: Work::Sleep,
        };
        if let Err(e) = config.validate() {
            return usage_error(&format!("{} (--{})", e.message, e.field.replace('_', "-")));
        }
        let reports: Vec<_> = variants
            .iter()
            .map(|v| loopscope::simulate(&config.with_variant(*v)).expect("validated above"))
            .collect();
        let out = match (a.json, reports.as_slice()) {
            (true, [one]) if a.variant != "all" => serde_json::to_string_pretty(one),
            (true, all) => serde_json::to_string_pretty(all),
            (false, [one]) if a.variant != "all" => Ok(summary::report_text(one)),
            (false, all) => Ok(summary::table_text(all)),
        };
        match out {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("loopscope: cannot write JSON: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn serve(host: &str, port: u16, dir: PathBuf) -> ExitCode {
        let dir = dir.canonicalize().unwrap_or(dir);
        if !dir.join("index.html").is_file() {
            return usage_error(&format!(
                "{} has no index.html: run from the repository root",
                dir.display()
            ));
        }
        let listener = match std::net::TcpListener::bind((host, port)) {
            Ok(l) => l,
            Err(e) => return usage_error(&format!("cannot listen on {host}:{port}: {e}")),
        };
        // With --port 0 the OS picks one: print the one we got.
        let port = listener.local_addr().map_or(port, |a| a.port());
        let shown = if host == "0.0.0.0" { "127.0.0.1" } else { host };
        println!(
            "loopscope: serving {} — open http://{shown}:{port}/ in a browser (Ctrl-C stops)",
            dir.display()
        );
        match super::serve::serve(&dir, listener) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("loopscope: server stopped: {e}");
                ExitCode::FAILURE
            }
        }
    }

    pub fn main() -> ExitCode {
        let cli = match Cli::try_parse() {
            Ok(cli) => cli,
            Err(e) if !e.use_stderr() => {
                // --help, --version
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                let rendered = e.to_string();
                let first = rendered.lines().next().unwrap_or("bad arguments");
                return usage_error(first.trim_start_matches("error: "));
            }
        };
        match cli.command {
            Command::Simulate(a) => simulate(a),
            Command::Serve { port, host, dir } => serve(&host, port, dir),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
