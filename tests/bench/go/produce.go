package main

// produce: the producer workloads of tests/bench/producer_bench.c with the Go
// client v2, printing the same JSON line (same field names).
//
//   - sync:  -threads goroutines each calling SendSync with one message
//   - async: one goroutine calling SendAsync with at most -window sends in
//     flight (a semaphore released by the callback)
//   - batch: -threads goroutines each calling SendSync with -batch messages
//     (the client encodes them as one batch request)
//
// -topics N spreads the messages round-robin over the N topics <topic>_0..
// <topic>_{N-1} (send i: topic i mod N; 0, the default: <topic> itself).
// -producers P makes P producers (groups BenchGoPG, BenchGoPG_1, ...) with
// one InstanceName: the client keeps one internal client per client id
// (IP@InstanceName), so they share its connections, name-server routes and
// heartbeats (reference counted; each producer keeps its own map of topic
// publish info, filled from the shared routes). Sync goroutine t sends
// through producer t mod P, async send i through producer i mod P.
//
// After -warmup synchronous single sends (route, connection; warm-up j goes
// through producer j mod P to topic (j / P) mod N, so every pair when
// -warmup >= P * N), the process's user+system CPU and the wall clock are
// taken around the -count measured messages. Latency is per send call (per batch in batch mode), from the
// call to its result or callback. peakRssKiB is VmHWM of the whole run.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

func pct(lat []int64, q float64) int64 {
	if len(lat) == 0 {
		return 0
	}
	i := int(float64(len(lat)) * q)
	if i >= len(lat) {
		i = len(lat) - 1
	}
	return lat[i] / 1000
}

func produce(args []string) int {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	ns := fs.String("namesrv", "127.0.0.1:9876", "name server")
	topic := fs.String("topic", "", "topic")
	count := fs.Int("count", 100000, "messages measured")
	size := fs.Int("size", 256, "body bytes")
	mode := fs.String("mode", "async", "sync|async|batch")
	threads := fs.Int("threads", 1, "sending goroutines (sync, batch)")
	window := fs.Int("window", 1000, "async sends in flight")
	batch := fs.Int("batch", 64, "messages per batch (batch)")
	warmup := fs.Int("warmup", 2000, "synchronous sends before measuring")
	compress := fs.Int("compress-over", 4096, "compressMsgBodyOverHowmuch")
	nTopics := fs.Int("topics", 0, "spread over topics <topic>_0..<topic>_{N-1} (0: <topic>)")
	nProducers := fs.Int("producers", 1, "producers sharing one client instance")
	_ = fs.Parse(args)
	rlog.SetLogLevel("error")
	if *topic == "" || *count < 1 || *threads < 1 || *window < 1 || *batch < 1 || *nTopics < 0 ||
		*nProducers < 1 || (*mode != "sync" && *mode != "async" && *mode != "batch") {
		fmt.Fprintln(os.Stderr, "produce: need -topic, -count >= 1, -producers >= 1 and -mode sync|async|batch")
		return 2
	}
	topics := []string{*topic}
	if *nTopics > 0 {
		topics = make([]string, *nTopics)
		for t := range topics {
			topics[t] = fmt.Sprintf("%s_%d", *topic, t)
		}
	}
	ps := make([]rocketmq.Producer, *nProducers)
	for k := range ps {
		group := "BenchGoPG"
		if k > 0 {
			group = fmt.Sprintf("BenchGoPG_%d", k)
		}
		p, err := rocketmq.NewProducer(
			producer.WithNsResolver(primitive.NewPassthroughResolver([]string{*ns})),
			producer.WithGroupName(group),
			producer.WithInstanceName(fmt.Sprintf("bench-go-%d", os.Getpid())),
			producer.WithCompressMsgBodyOverHowmuch(*compress),
		)
		if err == nil {
			err = p.Start()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "producer:", err)
			return 2
		}
		ps[k] = p
	}
	body := make([]byte, *size)
	for i := range body {
		body[i] = 'x'
	}
	ctx := context.Background()
	for j := 0; j < *warmup; j++ {
		_, _ = ps[j%len(ps)].SendSync(ctx, primitive.NewMessage(topics[j/len(ps)%len(topics)], body))
	}
	per := 1
	if *mode == "batch" {
		per = *batch
	}
	sends := (*count + per - 1) / per
	lat := make([]int64, sends)
	var failed atomic.Int64
	// fail counts n failed messages; the first failure of the run is named on stderr
	fail := func(n int64, r *primitive.SendResult, err error) {
		if failed.Add(n) == n {
			fmt.Fprintln(os.Stderr, "first failed send:", err, r)
		}
	}
	cpu0, t0 := cpuNanos(), time.Now()
	switch *mode {
	case "sync", "batch":
		var next atomic.Int64
		var wg sync.WaitGroup
		for t := 0; t < *threads; t++ {
			wg.Add(1)
			p := ps[t%len(ps)]
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= sends {
						return
					}
					n := per
					if rest := *count - i*per; rest < n {
						n = rest
					}
					msgs := make([]*primitive.Message, n)
					for k := range msgs {
						msgs[k] = primitive.NewMessage(topics[i%len(topics)], body)
					}
					s := time.Now()
					r, err := p.SendSync(ctx, msgs...)
					if err != nil || r.Status != primitive.SendOK {
						fail(int64(n), r, err)
					}
					lat[i] = time.Since(s).Nanoseconds()
				}
			}()
		}
		wg.Wait()
	case "async":
		sem := make(chan struct{}, *window)
		var wg sync.WaitGroup
		wg.Add(sends)
		for i := 0; i < sends; i++ {
			sem <- struct{}{}
			i := i
			s := time.Now()
			err := ps[i%len(ps)].SendAsync(ctx, func(_ context.Context, r *primitive.SendResult, err error) {
				lat[i] = time.Since(s).Nanoseconds()
				if err != nil || r == nil || r.Status != primitive.SendOK {
					fail(1, r, err)
				}
				<-sem
				wg.Done()
			}, primitive.NewMessage(topics[i%len(topics)], body))
			if err != nil {
				lat[i] = time.Since(s).Nanoseconds()
				fail(1, nil, err)
				<-sem
				wg.Done()
			}
		}
		wg.Wait()
	}
	elapsed := time.Since(t0).Seconds()
	cpu := cpuNanos() - cpu0
	rss, peak := statusKiB("VmRSS:"), statusKiB("VmHWM:")
	for _, p := range ps {
		_ = p.Shutdown()
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	// rate and CPU per acknowledged message: failed sends are not throughput
	ok := max(int64(*count)-failed.Load(), 1)
	rate := float64(int64(*count)-failed.Load()) / elapsed
	out, _ := json.Marshal(map[string]any{
		"client": "go rocketmq-client-go/v2", "mode": *mode, "count": *count, "size": *size,
		"threads": *threads, "window": *window, "batch": per, "topics": len(topics), "producers": len(ps), "failed": failed.Load(),
		"elapsedMs":  int64(elapsed * 1000),
		"msgsPerSec": int64(rate + 0.5), "MBps": math.Round(rate*float64(*size)/1e4) / 100,
		"p50us": pct(lat, 0.5), "p99us": pct(lat, 0.99), "p999us": pct(lat, 0.999),
		"cpuUsPerMsg": math.Round(float64(cpu)/1e3/float64(ok)*100) / 100,
		"rssKiB":      rss, "peakRssKiB": peak,
	})
	fmt.Println(string(out))
	if failed.Load() != 0 {
		return 1
	}
	return 0
}
