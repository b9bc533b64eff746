//! Benchmark peer (not a test): the Rust client rocketmq-client-rust doing
//! what tests/bench/producer_bench.c and consumer_bench.c do, with the flags
//! and the JSON line of the Go peer (tests/bench/go), so peers.sh and
//! consumer.sh read all of them alike.
//!
//!   rust-bench produce -namesrv NS -topic T -count N -size 256 -mode sync|async|batch
//!              [-threads 1] [-window 1000] [-batch 64] [-warmup 2000] [-compress-over 4096]
//!              [-topics 0] [-producers 1]
//!   rust-bench consume-push -namesrv NS -topic T -count N [-pull-batch 32]
//!   rust-bench consume-lite -namesrv NS -topic T -count N [-pull-batch 32]
//!
//! produce (see produce.rs): after -warmup synchronous sends, the process's
//! user+system CPU (getrusage) and the wall clock are taken around the -count
//! measured messages. consume-push: a fresh group subscribes from the first
//! offset with the client's default push settings (20 consume tasks, one
//! message per listener call) until -count messages were consumed.
//! consume-lite: the lite pull consumer polls (1 s) until -count arrived, as
//! the Java peer's bench-consume. CPU is counted from just before the
//! consumer is made.

mod consume;
mod produce;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use rocketmq_client_rust::ClientRuntime;
use rocketmq_client_rust::ClientRuntimeConfig;
use rocketmq_observability::TelemetryRuntimeGuard;
use rocketmq_runtime::RuntimeOwner;

/// The crate and version this peer is built against (Cargo.lock pins it).
pub const CLIENT: &str = "rust rocketmq-client-rust/1.0.0";

/// User+system CPU time of the whole process, in nanoseconds.
pub fn cpu_nanos() -> i64 {
    // SAFETY: getrusage only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let ns = |t: libc::timeval| t.tv_sec as i64 * 1_000_000_000 + t.tv_usec as i64 * 1000;
    ns(ru.ru_utime) + ns(ru.ru_stime)
}

/// A "Key:  N kB" line of /proc/self/status (VmRSS, VmHWM), in KiB; -1 if absent.
pub fn status_kib(key: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        })
        .unwrap_or(-1)
}

/// Go-style flags: `-name value` pairs, every name in `defaults`.
pub struct Flags(HashMap<String, String>);

impl Flags {
    pub fn parse(args: &[String], defaults: &[(&str, &str)]) -> Result<Self, String> {
        let mut m: HashMap<String, String> = defaults
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let name = a.trim_start_matches('-');
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            };
            if name == a || !m.contains_key(name) {
                return Err(format!("unknown flag {a}"));
            }
            let v = match inline {
                Some(v) => v,
                None => it.next().ok_or(format!("flag {a} needs a value"))?.clone(),
            };
            m.insert(name.to_string(), v);
        }
        Ok(Flags(m))
    }

    pub fn str(&self, k: &str) -> &str {
        &self.0[k]
    }

    pub fn num(&self, k: &str) -> Result<i64, String> {
        self.0[k]
            .parse()
            .map_err(|_| format!("-{k}: not a number: {}", self.0[k]))
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: rust-bench produce -namesrv NS -topic T -count N -size B -mode sync|async|batch \
         [-threads N] [-window W] [-batch B] [-warmup N] [-compress-over B] \
         [-topics N] [-producers P]\n       \
         rust-bench consume-push|consume-lite -namesrv NS -topic T -count N [-pull-batch 32]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(cmd) = args.get(1).cloned() else {
        return usage();
    };
    if !matches!(cmd.as_str(), "produce" | "consume-push" | "consume-lite") {
        return usage();
    }
    let owner = match RuntimeOwner::new() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // No telemetry export: a benchmark measures the client, not its exporter.
    let telemetry = TelemetryRuntimeGuard::noop();
    let runtime = match ClientRuntime::try_new(
        owner.root_context().component("rust-bench"),
        ClientRuntimeConfig::default(),
        telemetry.handle(),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("client runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let rest = args[2..].to_vec();
    let rt = Arc::clone(&runtime);
    let code = owner.block_on(async move {
        let code = match cmd.as_str() {
            "produce" => produce::run(rt, &rest).await,
            "consume-push" => consume::push(rt, &rest).await,
            _ => consume::lite(rt, &rest).await,
        };
        let report = runtime.shutdown().await;
        if !report.is_healthy() {
            eprintln!("client runtime shutdown: {}", report.to_json());
        }
        code
    });
    if let Err(e) = owner.shutdown_runtime_blocking() {
        eprintln!("runtime shutdown: {e}");
    }
    ExitCode::from(code)
}
