package main

// compress FILE LEVEL N: the body in FILE (tests/bench/zlib_bench dump ...)
// compressed N times the way the client's producer does it
// (internal/utils/compression.go: a sync.Pool of zlib.Writer per level,
// Reset per message, a pooled bytes.Buffer, the result copied out), to
// compare its CPU per message with zlib_bench's (doc/performance.md,
// Compression). Prints the ratio; time it with /usr/bin/time.

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"os"
	"strconv"
	"sync"
)

var writers sync.Pool
var outBufs = sync.Pool{New: func() interface{} { return &bytes.Buffer{} }}

func compressOne(raw []byte, level int) []byte {
	buf := outBufs.Get().(*bytes.Buffer)
	defer outBufs.Put(buf)
	w, _ := writers.Get().(*zlib.Writer)
	if w == nil {
		w, _ = zlib.NewWriterLevel(nil, level)
	}
	defer writers.Put(w)
	buf.Reset()
	w.Reset(buf)
	_, _ = w.Write(raw)
	_ = w.Close()
	out := make([]byte, buf.Len())
	_, _ = buf.Read(out)
	return out
}

func compressBench(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bench compress FILE LEVEL N")
		return 2
	}
	body, err := os.ReadFile(args[0])
	level, _ := strconv.Atoi(args[1])
	n, _ := strconv.Atoi(args[2])
	if err != nil || level < 1 || level > 9 || n < 1 {
		fmt.Fprintln(os.Stderr, "compress: bad FILE, LEVEL (1..9) or N")
		return 2
	}
	z := 0
	for i := 0; i < n; i++ {
		z = len(compressOne(body, level))
	}
	fmt.Printf("{\"bytes\":%d,\"compressed\":%d,\"ratio\":%.2f}\n", len(body), z,
		float64(len(body))/float64(z))
	return 0
}
