//! consume-push and consume-lite: the JSON line of consumer_bench.c, the Java
//! peer's bench-consume and the Go peer's consume-push (same keys).

use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use rocketmq_client_rust::ClientResult;
use rocketmq_client_rust::ClientRuntime;
use rocketmq_client_rust::ConsumeConcurrentlyContext;
use rocketmq_client_rust::ConsumeConcurrentlyStatus;
use rocketmq_client_rust::DefaultLitePullConsumer;
use rocketmq_client_rust::DefaultMQPushConsumer;
use rocketmq_client_rust::MQPushConsumer;
use rocketmq_client_rust::MessageListenerConcurrently;
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use tokio::sync::Notify;

use crate::Flags;

/// What both consumers measure; times are nanoseconds since `t0`, 0 = never.
struct Tally {
    t0: Instant,
    want: i64,
    received: AtomicI64,
    bytes: AtomicI64,
    first: AtomicI64,
    last: AtomicI64,
    done: Notify,
}

impl Tally {
    fn now(&self) -> i64 {
        // at least 1, so that 0 keeps meaning "not yet"
        (self.t0.elapsed().as_nanos() as i64).max(1)
    }

    /// Counts `n` messages of `b` body bytes received at `now`; wakes the
    /// waiter once `want` are in.
    fn add(&self, now: i64, n: i64, b: i64) {
        let _ = self
            .first
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
        self.bytes.fetch_add(b, Ordering::Relaxed);
        if self.received.fetch_add(n, Ordering::AcqRel) + n >= self.want
            && self
                .last
                .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.done.notify_one();
        }
    }
}

struct Listener(Arc<Tally>);

impl MessageListenerConcurrently for Listener {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _ctx: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        let now = self.0.now();
        let b: usize = msgs.iter().map(|m| m.body().map_or(0, |b| b.len())).sum();
        self.0.add(now, msgs.len() as i64, b as i64);
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

struct Args {
    namesrv: String,
    topic: String,
    count: i64,
    pull_batch: i64,
    timeout: Duration,
    group: String,
}

/// A Go-style duration as the Go peer's -timeout takes: "600s", "10m", "1h"
/// (a bare number is seconds).
fn duration(v: &str) -> Result<Duration, String> {
    let (n, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("-timeout: not a duration: {v}")),
    };
    n.parse::<u64>()
        .map(|n| Duration::from_secs(n * mul))
        .map_err(|_| format!("-timeout: not a duration: {v}"))
}

fn parse(args: &[String], prefix: &str) -> Result<Args, String> {
    let f = Flags::parse(
        args,
        &[
            ("namesrv", "127.0.0.1:9876"),
            ("topic", ""),
            ("count", "1000000"),
            ("pull-batch", "32"),
            ("timeout", "10m"),
        ],
    )?;
    let a = Args {
        namesrv: f.str("namesrv").to_string(),
        topic: f.str("topic").to_string(),
        count: f.num("count")?,
        pull_batch: f.num("pull-batch")?,
        timeout: duration(f.str("timeout"))?,
        group: format!(
            "{prefix}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        ),
    };
    if a.topic.is_empty() || a.count < 1 || !(1..=i32::MAX as i64).contains(&a.pull_batch) {
        return Err("need -topic, -count >= 1 and -pull-batch >= 1".into());
    }
    Ok(a)
}

/// Prints the JSON line; `end` in nanoseconds since t0, `cpu0` the process
/// CPU before the consumer was made, (rss, peak) read before its shutdown.
fn emit(
    mode: &str,
    a: &Args,
    k: &Tally,
    end: i64,
    cpu0: i64,
    cpu_total: i64,
    mem: (i64, i64),
) -> u8 {
    let (got, first) = (
        k.received.load(Ordering::Acquire),
        k.first.load(Ordering::Acquire),
    );
    let n = got.max(1) as f64;
    let rate = if first == 0 || end == first {
        0.0
    } else {
        (got - 1) as f64 / ((end - first) as f64 / 1e9)
    };
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    println!(
        "{{\"client\":\"{}\",\"mode\":\"{mode}\",\"count\":{got},\"bytes\":{},\"pullBatch\":{},\
         \"msgsPerSec\":{},\"startToFirstMs\":{},\"elapsedMs\":{},\"cpuUsPerMsg\":{},\
         \"cpuTotalUsPerMsg\":{},\"rssKiB\":{},\"peakRssKiB\":{}}}",
        crate::CLIENT,
        k.bytes.load(Ordering::Relaxed),
        a.pull_batch,
        (rate + 0.5) as i64,
        if first == 0 { -1 } else { first / 1_000_000 },
        end / 1_000_000,
        round2((cpu_total - cpu0) as f64 / 1e3 / n),
        round2(cpu_total as f64 / 1e3 / n),
        mem.0,
        mem.1,
    );
    u8::from(got < a.count)
}

fn tally(want: i64) -> Arc<Tally> {
    Arc::new(Tally {
        t0: Instant::now(),
        want,
        received: AtomicI64::new(0),
        bytes: AtomicI64::new(0),
        first: AtomicI64::new(0),
        last: AtomicI64::new(0),
        done: Notify::new(),
    })
}

/// The flags, the process CPU so far and a fresh tally; None (after saying
/// why) on bad flags.
fn begin(args: &[String], cmd: &str, group_prefix: &str) -> Option<(Args, i64, Arc<Tally>)> {
    match parse(args, group_prefix) {
        Ok(a) => {
            let k = tally(a.count);
            Some((a, crate::cpu_nanos(), k))
        }
        Err(e) => {
            eprintln!("{cmd}: {e}");
            None
        }
    }
}

/// Process CPU, then (VmRSS, VmHWM), read before the consumer shuts down.
fn sample() -> (i64, (i64, i64)) {
    (
        crate::cpu_nanos(),
        (crate::status_kib("VmRSS:"), crate::status_kib("VmHWM:")),
    )
}

pub async fn push(rt: Arc<ClientRuntime>, args: &[String]) -> u8 {
    let Some((a, cpu0, k)) = begin(args, "consume-push", "BenchRustPG") else {
        return 2;
    };
    let mut c = DefaultMQPushConsumer::builder(rt)
        .consumer_group(a.group.as_str())
        .name_server_addr(a.namesrv.as_str())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .pull_batch_size(a.pull_batch as u32)
        .build();
    c.register_message_listener_concurrently(Listener(Arc::clone(&k)));
    let started = match c.subscribe(&a.topic, "*").await {
        Ok(()) => c.start().await,
        Err(e) => Err(e),
    };
    if let Err(e) = started {
        eprintln!("consume-push: start: {e}");
        return 2;
    }
    let _ = tokio::time::timeout(a.timeout, k.done.notified()).await;
    let end = match k.last.load(Ordering::Acquire) {
        0 => k.now(),
        t => t,
    };
    let (cpu_total, mem) = sample();
    c.shutdown().await;
    emit("push", &a, &k, end, cpu0, cpu_total, mem)
}

pub async fn lite(rt: Arc<ClientRuntime>, args: &[String]) -> u8 {
    let Some((a, cpu0, k)) = begin(args, "consume-lite", "BenchRustCG") else {
        return 2;
    };
    let c: DefaultLitePullConsumer = match DefaultLitePullConsumer::builder(rt)
        .consumer_group(a.group.as_str())
        .name_server_addr(a.namesrv.as_str())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .pull_batch_size(a.pull_batch as i32)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("consume-lite: {e}");
            return 2;
        }
    };
    let started = match c.subscribe_with_expression(&a.topic, "*").await {
        Ok(()) => c.start().await,
        Err(e) => Err(e),
    };
    if let Err(e) = started {
        eprintln!("consume-lite: start: {e}");
        return 2;
    }
    while k.received.load(Ordering::Relaxed) < a.count && k.t0.elapsed() < a.timeout {
        // the zero-copy poll hands out the client's own Arc<MessageExt>, as
        // librmq's poll hands out its messages: no copy of each message
        let msgs = c.poll_with_timeout_zero_copy(1000).await;
        if msgs.is_empty() {
            continue;
        }
        let b: usize = msgs.iter().map(|m| m.body().map_or(0, |b| b.len())).sum();
        k.add(k.now(), msgs.len() as i64, b as i64);
    }
    let end = k.now();
    let (cpu_total, mem) = sample();
    c.shutdown().await;
    emit("lite-pull", &a, &k, end, cpu0, cpu_total, mem)
}
