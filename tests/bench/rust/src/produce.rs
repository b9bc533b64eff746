//! produce: the producer workloads of tests/bench/producer_bench.c with
//! rocketmq-client-rust, printing the Go peer's JSON line (same keys).
//!
//!   - sync:  -threads tokio tasks each awaiting `send` of one message
//!   - async: one task calling `send_with_callback` with at most -window sends
//!     in flight (a semaphore whose permit the callback releases)
//!   - batch: -threads tasks each awaiting `send_batch` of -batch messages
//!
//! The client admits at most 512 requests in flight per client instance (the
//! pending-request table of its transport, `max_count: 512`, fixed in
//! rocketmq-transport 1.0.0); by that source, a request past it is refused
//! at once (QueueSaturated) rather than queued. So the async
//! window is cut to 512 and the JSON's "window" is the window used
//! ("windowRequested" the one asked for).
//!
//! -topics N spreads the messages round-robin over the N topics <topic>_0..
//! <topic>_{N-1} (send i: topic i mod N; 0, the default: <topic> itself).
//! -producers P makes P producers (groups BenchRustPG, BenchRustPG_1, ...) on
//! one ClientRuntime with the same client config: the runtime's client pool
//! keys its MQClientInstance by client id (IP@InstanceName), so they share
//! one instance (connections, routes, heartbeats; and the 512 cap above).
//! Sync task t sends through producer t mod P, async send i through producer
//! i mod P; warm-up j goes through producer j mod P to topic (j / P) mod N,
//! as the Go peer does.
//!
//! Latency is per send call (per batch in batch mode), from the call to its
//! result or callback. peakRssKiB is VmHWM of the whole run.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicI64;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

use bytes::Bytes;
use rocketmq_client_rust::ClientError;
use rocketmq_client_rust::ClientRuntime;
use rocketmq_client_rust::DefaultMQProducer;
use rocketmq_client_rust::SendResult;
use rocketmq_client_rust::SendStatus;
use rocketmq_model::common::message::message_single::Message;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::Semaphore;

use crate::Flags;

/// Requests in flight the client's transport admits (see the module note).
pub const CLIENT_INFLIGHT_CAP: usize = 512;

struct Work {
    topics: Vec<String>,
    body: Bytes,
    count: usize,
    per: usize,
    sends: usize,
    lat: Vec<AtomicU64>,
    failed: AtomicI64,
    next: AtomicU64,
}

impl Work {
    /// A message to the topic of send number `i`.
    fn msg(&self, i: usize) -> Message {
        // Bytes is reference-counted: every message shares the one body.
        Message::builder()
            .topic(self.topics[i % self.topics.len()].as_str())
            .body(self.body.clone())
            .build_unchecked()
    }

    /// Messages of send number `i` (the last batch may be short).
    fn size_of(&self, i: usize) -> usize {
        self.per.min(self.count - i * self.per)
    }
}

fn ok(r: Option<&SendResult>) -> bool {
    matches!(r, Some(r) if r.send_status == SendStatus::SendOk)
}

fn pct(lat: &[u64], q: f64) -> u64 {
    if lat.is_empty() {
        return 0;
    }
    let i = ((lat.len() as f64 * q) as usize).min(lat.len() - 1);
    lat[i] / 1000
}

/// sync and batch: `threads` tasks take send numbers from one counter.
async fn run_blocking_sends(ps: &[Arc<DefaultMQProducer>], w: &Arc<Work>, threads: usize) {
    let mut tasks = Vec::with_capacity(threads);
    for t in 0..threads {
        let (p, w) = (Arc::clone(&ps[t % ps.len()]), Arc::clone(w));
        tasks.push(tokio::spawn(async move {
            loop {
                let i = w.next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= w.sends {
                    return;
                }
                let n = w.size_of(i);
                let s = Instant::now();
                let good = if w.per == 1 {
                    matches!(p.send(w.msg(i)).await, Ok(r) if ok(r.as_ref()))
                } else {
                    let msgs: Vec<Message> = (0..n).map(|_| w.msg(i)).collect();
                    matches!(p.send_batch(msgs).await, Ok(r) if ok(Some(&r)))
                };
                if !good {
                    w.failed.fetch_add(n as i64, Ordering::Relaxed);
                }
                w.lat[i].store(s.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// One async send: completes once, whether by callback or by the call's error.
struct Slot {
    w: Arc<Work>,
    i: usize,
    start: Instant,
    done: AtomicBool,
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Slot {
    fn complete(&self, good: bool) {
        if self.done.swap(true, Ordering::AcqRel) {
            return;
        }
        self.w.lat[self.i].store(self.start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if !good {
            self.w.failed.fetch_add(1, Ordering::Relaxed);
        }
        drop(self.permit.lock().unwrap().take());
    }
}

async fn run_async(ps: &[Arc<DefaultMQProducer>], w: &Arc<Work>, window: usize) {
    let sem = Arc::new(Semaphore::new(window));
    for i in 0..w.sends {
        let permit = Arc::clone(&sem)
            .acquire_owned()
            .await
            .expect("semaphore open");
        let slot = Arc::new(Slot {
            w: Arc::clone(w),
            i,
            start: Instant::now(),
            done: AtomicBool::new(false),
            permit: Mutex::new(Some(permit)),
        });
        let cb = Arc::clone(&slot);
        let r = ps[i % ps.len()]
            .send_with_callback(
                w.msg(i),
                move |r: Option<&SendResult>, e: Option<&ClientError>| {
                    cb.complete(e.is_none() && ok(r))
                },
            )
            .await;
        if r.is_err() {
            slot.complete(false);
        }
    }
    // every permit back: every send has completed
    let _ = sem.acquire_many(window as u32).await;
}

pub async fn run(rt: Arc<ClientRuntime>, args: &[String]) -> u8 {
    let f = match Flags::parse(
        args,
        &[
            ("namesrv", "127.0.0.1:9876"),
            ("topic", ""),
            ("count", "100000"),
            ("size", "256"),
            ("mode", "async"),
            ("threads", "1"),
            ("window", "1000"),
            ("batch", "64"),
            ("warmup", "2000"),
            ("compress-over", "4096"),
            ("topics", "0"),
            ("producers", "1"),
        ],
    ) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("produce: {e}");
            return 2;
        }
    };
    let nums = (|| -> Result<_, String> {
        Ok((
            f.num("count")?,
            f.num("size")?,
            f.num("threads")?,
            f.num("window")?,
            f.num("batch")?,
            f.num("warmup")?,
            f.num("compress-over")?,
            f.num("topics")?,
            f.num("producers")?,
        ))
    })();
    let Ok((count, size, threads, window_req, batch, warmup, compress, ntopics, nproducers)) = nums
    else {
        eprintln!("produce: {}", nums.err().unwrap());
        return 2;
    };
    let (topic, mode) = (f.str("topic").to_string(), f.str("mode").to_string());
    if topic.is_empty()
        || count < 1
        || size < 0
        || threads < 1
        || window_req < 1
        || batch < 1
        || ntopics < 0
        || nproducers < 1
        || !(0..=u32::MAX as i64).contains(&compress)
        || !matches!(mode.as_str(), "sync" | "async" | "batch")
    {
        eprintln!("produce: need -topic, -count >= 1, -producers >= 1 and -mode sync|async|batch");
        return 2;
    }
    let window = if mode == "async" {
        (window_req as usize).min(CLIENT_INFLIGHT_CAP)
    } else {
        window_req as usize
    };
    let topics: Vec<String> = if ntopics == 0 {
        vec![topic]
    } else {
        (0..ntopics).map(|t| format!("{topic}_{t}")).collect()
    };
    let mut ps = Vec::with_capacity(nproducers as usize);
    for k in 0..nproducers {
        let group = if k == 0 {
            "BenchRustPG".to_string()
        } else {
            format!("BenchRustPG_{k}")
        };
        let mut producer = DefaultMQProducer::builder(Arc::clone(&rt))
            .producer_group(group.as_str())
            .name_server_addr(f.str("namesrv"))
            .compress_msg_body_over_howmuch(compress as u32)
            .build();
        if let Err(e) = producer.start().await {
            eprintln!("producer: {e}");
            return 2;
        }
        ps.push(producer);
    }
    let per = if mode == "batch" { batch as usize } else { 1 };
    let count = count as usize;
    let sends = count.div_ceil(per);
    let (np, nt) = (ps.len(), topics.len());
    let w = Arc::new(Work {
        topics,
        body: Bytes::from(vec![b'x'; size as usize]),
        count,
        per,
        sends,
        lat: (0..sends).map(|_| AtomicU64::new(0)).collect(),
        failed: AtomicI64::new(0),
        next: AtomicU64::new(0),
    });
    for j in 0..warmup as usize {
        let _ = ps[j % np].send(w.msg(j / np)).await;
    }
    let ps: Vec<Arc<DefaultMQProducer>> = ps.into_iter().map(Arc::new).collect();
    let (cpu0, t0) = (crate::cpu_nanos(), Instant::now());
    if mode == "async" {
        run_async(&ps, &w, window).await;
    } else {
        run_blocking_sends(&ps, &w, threads as usize).await;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = crate::cpu_nanos() - cpu0;
    let (rss, peak) = (crate::status_kib("VmRSS:"), crate::status_kib("VmHWM:"));
    // the send tasks have ended, so this is the only reference left
    for p in ps {
        if let Some(mut p) = Arc::into_inner(p) {
            p.shutdown().await;
        }
    }
    let mut lat: Vec<u64> = w.lat.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    lat.sort_unstable();
    let failed = w.failed.load(Ordering::Relaxed);
    // rate and CPU per acknowledged message: failed sends are not throughput
    let acked = count as i64 - failed;
    let rate = acked as f64 / elapsed;
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    println!(
        "{{\"client\":\"{}\",\"mode\":\"{mode}\",\"count\":{count},\"size\":{size},\"threads\":{threads},\
         \"window\":{window},\"windowRequested\":{window_req},\"batch\":{per},\"topics\":{nt},\"producers\":{np},\"failed\":{failed},\
         \"elapsedMs\":{},\"msgsPerSec\":{},\"MBps\":{},\"p50us\":{},\"p99us\":{},\"p999us\":{},\
         \"cpuUsPerMsg\":{},\"rssKiB\":{rss},\"peakRssKiB\":{peak}}}",
        crate::CLIENT,
        (elapsed * 1000.0) as i64,
        (rate + 0.5) as i64,
        round2(rate * size as f64 / 1e6),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 0.999),
        round2(cpu as f64 / 1e3 / acked.max(1) as f64),
    );
    u8::from(failed != 0)
}
