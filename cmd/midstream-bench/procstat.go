package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go runs on.
const clockTicks = 100

// procStat is what /proc/<pid>/stat says of a process.
type procStat struct {
	pid, ppid int
	cpu       float64 // utime + stime of the process itself, in seconds
	rss       int64   // resident set size, bytes
}

var pageSize = int64(os.Getpagesize())

// readStat reads /proc/<pid>/stat.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	return parseStat(pid, b)
}

func parseStat(pid int, b []byte) (procStat, bool) {
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): field n is f[n-3].
	if len(f) < 22 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	return procStat{pid: pid, ppid: ppid, cpu: float64(ut+st) / clockTicks, rss: rss * pageSize}, true
}

// allStats reads the stat of every process.
func allStats() []procStat {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make([]procStat, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, ok := readStat(pid); ok {
			out = append(out, s)
		}
	}
	return out
}

// procName names a process by its command line: the plugin processes of
// the midstream binary are "midstream plugins serve NAME".
func procName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return "?"
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if len(args) >= 4 && args[1] == "plugins" && args[2] == "serve" {
		return "plugin:" + args[3]
	}
	if len(args) > 0 {
		return filepath.Base(args[0])
	}
	return "?"
}

// treeSampler samples a process and its descendants every interval: the
// last CPU time seen of each process, and the peak of their summed RSS.
type treeSampler struct {
	root     int
	interval time.Duration

	mu      sync.Mutex
	cpu     map[int]float64
	names   map[int]string
	peakRSS int64
	stop    chan struct{}
	done    chan struct{}
}

func sampleTree(root int, interval time.Duration) *treeSampler {
	s := &treeSampler{root: root, interval: interval, cpu: map[int]float64{}, names: map[int]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *treeSampler) sample() {
	stats := allStats()
	kids := map[int][]int{}
	byPid := map[int]procStat{}
	for _, st := range stats {
		kids[st.ppid] = append(kids[st.ppid], st.pid)
		byPid[st.pid] = st
	}
	var rss int64
	queue := []int{s.root}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		st, ok := byPid[pid]
		if !ok {
			continue
		}
		rss += st.rss
		s.cpu[pid] = st.cpu
		// A child shows its parent's command line until it executes its
		// own: read it again until it names a plugin.
		if pid != s.root && !strings.HasPrefix(s.names[pid], "plugin:") {
			s.names[pid] = procName(pid)
		}
		queue = append(queue, kids[pid]...)
	}
	s.peakRSS = max(s.peakRSS, rss)
}

// finish stops sampling and returns the CPU seconds of each descendant by
// name (the root excluded) and the peak RSS of the tree.
func (s *treeSampler) finish() (children map[string]float64, peakRSS int64) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	children = map[string]float64{}
	for pid, c := range s.cpu {
		if pid == s.root {
			continue
		}
		children[s.names[pid]] += c
	}
	return children, s.peakRSS
}
