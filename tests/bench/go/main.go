// Benchmark peer (not a test): the Go client v2 (apache/rocketmq-client-go)
// doing what tests/bench/consumer_bench.c and producer_bench.c do, printing
// the same JSON lines.
//
//	go run . consume-push -namesrv 127.0.0.1:9876 -topic T -count 1000000 [-pull-batch 32]
//	go run . produce -namesrv NS -topic T -count N -size 256 -mode sync|async|batch
//	         [-threads 1] [-window 1000] [-batch 64] [-warmup 2000] [-compress-over 4096] [-topics N] [-producers P]
//	go run . compress FILE LEVEL N   (see compress.go)
//
// produce: see produce.go. consume-push: a fresh group subscribes from the first offset with the client's default
// push settings (20 consume goroutines, one message per listener call) and
// runs until -count messages were consumed. CPU is the process's
// user+system time from just before the consumer is made (getrusage).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

func cpuNanos() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func statusKiB(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key) {
			f := strings.Fields(l[len(key):])
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return -1
}

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "produce" {
		os.Exit(produce(os.Args[2:]))
	}
	if len(os.Args) >= 2 && os.Args[1] == "compress" {
		os.Exit(compressBench(os.Args[2:]))
	}
	if len(os.Args) < 2 || os.Args[1] != "consume-push" {
		fmt.Fprintln(os.Stderr, "usage: bench consume-push -namesrv NS -topic T -count N [-pull-batch 32]\n"+
			"       bench produce -namesrv NS -topic T -count N -size B -mode sync|async|batch [-threads N] [-window W] [-batch B]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("consume-push", flag.ExitOnError)
	ns := fs.String("namesrv", "127.0.0.1:9876", "name server")
	topic := fs.String("topic", "", "topic")
	count := fs.Int64("count", 1000000, "messages")
	batch := fs.Int("pull-batch", 32, "pull batch size")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	_ = fs.Parse(os.Args[2:])
	rlog.SetLogLevel("error")

	group := fmt.Sprintf("BenchGoPG_%d_%d", os.Getpid(), time.Now().UnixMilli())
	cpu0, t0 := cpuNanos(), time.Now()
	var received, bytes, first, last atomic.Int64
	done := make(chan struct{})
	c, err := rocketmq.NewPushConsumer(
		consumer.WithGroupName(group),
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{*ns})),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithPullBatchSize(int32(*batch)),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(2)
	}
	err = c.Subscribe(*topic, consumer.MessageSelector{},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			now := time.Now().UnixNano()
			first.CompareAndSwap(0, now)
			var b int64
			for _, m := range msgs {
				b += int64(len(m.Body))
			}
			bytes.Add(b)
			if received.Add(int64(len(msgs))) >= *count && last.CompareAndSwap(0, now) {
				close(done)
			}
			return consumer.ConsumeSuccess, nil
		})
	if err == nil {
		err = c.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		os.Exit(2)
	}
	select {
	case <-done:
	case <-time.After(*timeout):
	}
	end := last.Load()
	if end == 0 {
		end = time.Now().UnixNano()
	}
	cpuTotal := cpuNanos()
	cpu := cpuTotal - cpu0
	rss, peak := statusKiB("VmRSS:"), statusKiB("VmHWM:")
	got := received.Load()
	_ = c.Shutdown()
	n := got
	if n < 1 {
		n = 1
	}
	f := first.Load()
	rate := 0.0
	if f != 0 && end != f {
		rate = float64(got-1) / (float64(end-f) / 1e9)
	}
	startToFirst := int64(-1)
	if f != 0 {
		startToFirst = (f - t0.UnixNano()) / 1e6
	}
	out, _ := json.Marshal(map[string]any{
		"client": "go rocketmq-client-go/v2", "mode": "push", "count": got,
		"bytes": bytes.Load(), "pullBatch": *batch,
		"msgsPerSec": int64(rate + 0.5), "startToFirstMs": startToFirst,
		"elapsedMs":   (end - t0.UnixNano()) / 1e6,
		"cpuUsPerMsg": float64(cpu/10/n) / 100, "cpuTotalUsPerMsg": float64(cpuTotal/10/n) / 100,
		"rssKiB": rss, "peakRssKiB": peak,
	})
	fmt.Println(string(out))
	if got < *count {
		os.Exit(1)
	}
}
