//! The `loopscope` command: `simulate` predicts a run on the virtual model and prints
//! it like `ab` does (or as JSON); `serve` serves the browser simulator.

#[cfg(not(target_arch = "wasm32"))]
mod dist;
#[cfg(not(target_arch = "wasm32"))]
mod serve;

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use clap::{Parser, Subcommand};
    use loopscope::model::input::{read_config, Raw};
    use loopscope::model::{Config, Target, Variant};
    use loopscope::view::summary;
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
        Simulate(Box<SimulateArgs>),
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
        /// Write the page as one self-contained file to double-click (after `make web`;
        /// `make dist` does both).
        Dist {
            /// Folder holding index.html and www/.
            #[arg(long, default_value = ".")]
            dir: PathBuf,
            /// The file to write.
            #[arg(long, default_value = "dist/loopscope.html")]
            out: PathBuf,
        },
    }

    /// Every value is taken as typed and read by the core's rules for its field, so a
    /// bad one gets the same sentence as in the page's form or the JS API.
    #[derive(clap::Args)]
    struct SimulateArgs {
        /// sync_def, blocking, async_io, full_async, background, process_pool, task_queue;
        /// tutorial (its five), or all.
        #[arg(long, default_value = "all")]
        variant: String,
        /// Requests in total (ab -n) [default: 10].
        #[arg(short = 'n', long, allow_hyphen_values = true)]
        requests: Option<String>,
        /// Clients sending at once (ab -c) [default: the number of requests].
        #[arg(short = 'c', long, allow_hyphen_values = true)]
        concurrency: Option<String>,
        /// fetch_external_data's sleep, ms [default: 500].
        #[arg(long, allow_hyphen_values = true)]
        io_ms: Option<String>,
        /// run_model_prediction's sleep, ms [default: 1000].
        #[arg(long, allow_hyphen_values = true)]
        cpu_ms: Option<String>,
        /// log_prediction_details's sleep, ms [default: 200].
        #[arg(long, allow_hyphen_values = true)]
        bg_ms: Option<String>,
        /// Threadpool tokens (anyio's default limiter) [default: 40].
        #[arg(long, allow_hyphen_values = true)]
        tokens: Option<String>,
        /// What the prediction does: sleep (time.sleep), compute (a kernel that
        /// releases the GIL) or python_cpu (pure Python, holds the GIL) [default: sleep].
        #[arg(long, allow_hyphen_values = true)]
        work: Option<String>,
        /// process_pool: ProcessPoolExecutor(max_workers=P) [default: 4].
        #[arg(long, allow_hyphen_values = true)]
        processes: Option<String>,
        /// task_queue: queue workers running the log jobs [default: 2].
        #[arg(long, allow_hyphen_values = true)]
        queue_workers: Option<String>,
        /// uvicorn --workers: server processes sharing one accept queue; an idle one takes every waiting connection [default: 1].
        #[arg(long, allow_hyphen_values = true)]
        workers: Option<String>,
        /// What real FastAPI spends on the loop per request, ms [default: 0, the ideal model].
        #[arg(long, allow_hyphen_values = true)]
        overhead_ms: Option<String>,
        /// process_pool: pickling a call's argument and result, ms per call [default: 0].
        #[arg(long, allow_hyphen_values = true)]
        pickle_ms: Option<String>,
        /// task_queue: .delay()'s blocking publish to the broker, ms [default: 0].
        #[arg(long, allow_hyphen_values = true)]
        broker_ms: Option<String>,
        /// Print the report as JSON (an array of reports for `all`).
        #[arg(long)]
        json: bool,
        /// Sum the run up as it goes: the stats and a latency histogram, in memory that
        /// grows with the requests in flight at once (-c, up to 1 000 000), not with
        /// all of them (-n, up to 10 000 000).
        #[arg(long)]
        summary: bool,
        /// Print every iteration of the event loop (asyncio's `_run_once`) as one JSON
        /// line: what its poll read, the timers it found due, the callbacks it ran, and
        /// the loop's queues after it (runs of up to 2000 requests).
        #[arg(long, conflicts_with_all = ["summary", "json"])]
        trace: bool,
    }

    /// A usage error: one line on stderr, exit status 2.
    fn usage_error(message: &str) -> ExitCode {
        eprintln!("loopscope: {message}");
        ExitCode::from(2)
    }

    fn simulate(a: SimulateArgs) -> ExitCode {
        let several = a.variant == "all" || a.variant == "tutorial";
        let variants: Vec<Variant> = match a.variant.as_str() {
            "all" => Variant::ALL.to_vec(),
            "tutorial" => Variant::TUTORIAL.to_vec(),
            one => match one.parse() {
                Ok(v) => vec![v],
                Err(e) => return usage_error(&format!("{e} (or tutorial, or all)")),
            },
        };
        let given = [
            ("requests", a.requests),
            ("concurrency", a.concurrency),
            ("io_ms", a.io_ms),
            ("cpu_ms", a.cpu_ms),
            ("bg_ms", a.bg_ms),
            ("tokens", a.tokens),
            ("work", a.work),
            ("processes", a.processes),
            ("queue_workers", a.queue_workers),
            ("workers", a.workers),
            ("overhead_ms", a.overhead_ms),
            ("pickle_ms", a.pickle_ms),
            ("broker_ms", a.broker_ms),
        ];
        let pairs: Vec<(String, Raw)> = given
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_string(), Raw::Typed(value?))))
            .collect();
        let base = Config {
            variant: variants[0],
            ..Config::default()
        };
        let target = if a.summary { Target::Summary } else { Target::Model };
        let read = read_config(&base, &pairs, target);
        if let Some(e) = read.errors.first() {
            return usage_error(&format!("{} (--{})", e.message, e.field.replace('_', "-")));
        }
        let config = read.config;
        if a.trace {
            return trace(&variants, &config);
        }
        if a.summary {
            let summaries: Vec<_> = variants
                .iter()
                .map(|v| loopscope::simulate_summary(&config.with_variant(*v)).expect("validated above"))
                .collect();
            let out = match (a.json, summaries.as_slice()) {
                (true, [one]) if !several => serde_json::to_string_pretty(one),
                (true, all) => serde_json::to_string_pretty(all),
                (false, all) => Ok(summary::summaries_text(all)),
            };
            return match out {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => usage_error(&format!("cannot write JSON: {e}")),
            };
        }
        let reports: Vec<_> = variants
            .iter()
            .map(|v| loopscope::simulate(&config.with_variant(*v)).expect("validated above"))
            .collect();
        let out = match (a.json, reports.as_slice()) {
            (true, [one]) if !several => serde_json::to_string_pretty(one),
            (true, all) => serde_json::to_string_pretty(all),
            (false, [one]) if !several => Ok(summary::report_text(one)),
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

    /// `simulate --trace`: a JSON line per iteration, each naming its endpoint.
    fn trace(variants: &[Variant], config: &Config) -> ExitCode {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for v in variants {
            let traced = match loopscope::sim::trace::trace(&config.with_variant(*v)) {
                Ok(t) => t,
                Err(e) => return usage_error(&format!("{} (--{})", e.message, e.field.replace('_', "-"))),
            };
            for iteration in &traced.iterations {
                let line = serde_json::json!({ "variant": v.id(), "iteration": iteration });
                if writeln!(out, "{line}").is_err() {
                    return ExitCode::FAILURE; // stdout closed (a pipe into head): stop quietly
                }
            }
        }
        match out.flush() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
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
                // One line: clap's error, with its "did you mean" when it has one.
                let rendered = e.to_string();
                let first = rendered.lines().next().unwrap_or("bad arguments");
                let first = first.trim_start_matches("error: ");
                let tip = rendered
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("tip: a similar argument exists: "))
                    .map(|similar| format!(" (did you mean {similar}?)"))
                    .unwrap_or_default();
                return usage_error(&format!("{first}{tip}"));
            }
        };
        match cli.command {
            Command::Simulate(a) => simulate(*a),
            Command::Serve { port, host, dir } => serve(&host, port, dir),
            Command::Dist { dir, out } => match super::dist::dist(&dir, &out) {
                Ok(size) => {
                    println!(
                        "loopscope: wrote {} ({:.0} KB): one file, no server needed — double-click it to open it in a browser",
                        out.display(),
                        size as f64 / 1024.0
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => usage_error(&format!("cannot write {}: {e}", out.display())),
            },
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
