package geoip

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

const (
	versionV1 = "GeoLite2-City@1700000000,GeoLite2-ASN@1700000100"
	versionV2 = "GeoLite2-City@1700086400,GeoLite2-ASN@1700000100"
)

func TestReloadReplacedByRename(t *testing.T) {
	city, asn := fixture(t)
	p := newProvider(t, Config{Databases: []string{city, asn}, ReloadEvery: -1})
	if got := attrs(lookup(t, p, "192.0.2.10")); got["city"] != "London" {
		t.Fatalf("before: %v", got)
	}
	replaceFile(t, city, cityV2(t))
	if got := attrs(lookup(t, p, "192.0.2.10")); got["city"] != "London" {
		t.Fatalf("changed before Reload: %v", got)
	}
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	r := lookup(t, p, "192.0.2.10")
	got := attrs(r)
	if got["city"] != "Paris" || got["country"] != "FR" || got["asn"] != "64500" || r.Version != versionV2 {
		t.Fatalf("after: %v %q", got, r.Version)
	}
	// 198.51.100.0/24 is gone from the new build.
	if r := lookup(t, p, "198.51.100.7"); !r.NotFound {
		t.Fatalf("removed network still answers: %+v", r)
	}
	if dbs := p.Databases(); dbs[0].BuildEpoch != cityEpoch+86400 || dbs[1].BuildEpoch != asnEpoch {
		t.Fatalf("Databases = %+v", dbs)
	}
	// Nothing changed since: Reload is a no-op.
	if err := p.Reload(); err != nil || p.Version() != versionV2 {
		t.Fatalf("second Reload: %v, %q", err, p.Version())
	}
}

func TestReloadRewrittenInPlace(t *testing.T) {
	city, asn := fixture(t)
	p := newProvider(t, Config{Databases: []string{city, asn}, ReloadEvery: -1})
	writeFile(t, city, cityV2(t))
	// The served database is a private copy: the rewrite does not reach it
	// until the reload.
	if got := attrs(lookup(t, p, "192.0.2.10")); got["city"] != "London" {
		t.Fatalf("changed before Reload: %v", got)
	}
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := attrs(lookup(t, p, "2001:db8:1::1")); got["city"] != "Vancouver" {
		t.Fatalf("after: %v", got)
	}
	writeFile(t, city, cityV1(t))
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := attrs(lookup(t, p, "2001:db8:1::1")); got["city"] != "Seattle" || p.Version() != versionV1 {
		t.Fatalf("back to v1: %v %q", got, p.Version())
	}
}

func TestReloadByPoller(t *testing.T) {
	city, asn := fixture(t)
	var logs logBuffer
	p := newProvider(t, Config{Databases: []string{city, asn}, ReloadEvery: 10 * time.Millisecond, Logger: logs.logger()})
	replaceFile(t, city, cityV2(t))
	waitFor(t, func() bool { return attrs(lookup(t, p, "192.0.2.10"))["city"] == "Paris" })
	writeFile(t, city, cityV1(t))
	waitFor(t, func() bool { return attrs(lookup(t, p, "192.0.2.10"))["city"] == "London" })
	if n := logs.count("database reloaded"); n != 2 {
		t.Fatalf("%d reload log lines, want 2", n)
	}
}

func TestReloadCorruptKeepsServing(t *testing.T) {
	valid := cityV2(t)
	scrambledTree := append([]byte(nil), valid...)
	for i := 0; i < 64; i++ { // the search tree starts the file
		scrambledTree[i] = 0xff
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"garbage", []byte("definitely not a MaxMind DB")},
		{"truncated", valid[:len(valid)/2]},
		{"empty", nil},
		{"scrambled search tree", scrambledTree},
	} {
		t.Run(tc.name, func(t *testing.T) {
			city, asn := fixture(t)
			var logs logBuffer
			p := newProvider(t, Config{Databases: []string{city, asn}, ReloadEvery: -1, Logger: logs.logger()})
			replaceFile(t, city, tc.data)
			err := p.Reload()
			if err == nil {
				t.Fatal("Reload accepted a corrupt database")
			}
			t.Logf("Reload: %v", err)
			r := lookup(t, p, "192.0.2.10")
			if got := attrs(r); got["city"] != "London" || r.Version != versionV1 {
				t.Fatalf("old data not served: %v %q", got, r.Version)
			}
			// The poller neither retries nor logs an unchanged broken file
			// again; the forced Reload above logged it once.
			for range 3 {
				if err := p.check(false); err == nil {
					t.Fatal("check forgot the failure")
				}
			}
			if n := logs.count("level=ERROR"); n != 1 {
				t.Fatalf("%d error log lines, want 1:\n%s", n, logs.buf.String())
			}
			// Fixed file: served.
			replaceFile(t, city, valid)
			if err := p.Reload(); err != nil {
				t.Fatal(err)
			}
			if got := attrs(lookup(t, p, "192.0.2.10")); got["city"] != "Paris" {
				t.Fatalf("fixed database not served: %v", got)
			}
		})
	}
}

func TestReloadMissingFileKeepsServing(t *testing.T) {
	city, asn := fixture(t)
	var logs logBuffer
	p := newProvider(t, Config{Databases: []string{city, asn}, ReloadEvery: -1, Logger: logs.logger()})
	if err := os.Remove(asn); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.Reload(); err == nil {
			t.Fatal("Reload did not report the missing file")
		}
	}
	if got := attrs(lookup(t, p, "192.0.2.10")); got["asn"] != "64500" || got["city"] != "London" {
		t.Fatalf("old data not served: %v", got)
	}
	if n := logs.count("database file unavailable"); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
	if err := os.WriteFile(asn, asnV1(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
}

// Lookups racing reloads always see one consistent database set: the
// answer and Result.Version come from the same snapshot.
func TestConcurrentLookupsDuringReload(t *testing.T) {
	city, asn := fixture(t)
	p := newProvider(t, Config{Databases: []string{city, asn}, ReloadEvery: time.Millisecond})
	v1, v2 := cityV1(t), cityV2(t)
	stop := make(chan struct{})
	var lookups, seenV1, seenV2 atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			ip := "192.0.2.10"
			if g%2 == 1 {
				ip = "2001:db8:1::1"
			}
			kind := KindIPv4
			if strings.Contains(ip, ":") {
				kind = KindIPv6
			}
			req := enrichment.Request{Kind: kind, Value: ip}
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := p.Enrich(context.Background(), req)
				if err != nil {
					t.Error(err)
					return
				}
				city := attrs(r)["city"]
				ok := (r.Version == versionV1 && (city == "London" || city == "Seattle")) ||
					(r.Version == versionV2 && (city == "Paris" || city == "Vancouver"))
				if !ok {
					t.Errorf("inconsistent answer: city %q from %q", city, r.Version)
					return
				}
				lookups.Add(1)
				if r.Version == versionV1 {
					seenV1.Add(1)
				} else {
					seenV2.Add(1)
				}
			}
		})
	}
	reloads := 0
	for i := range 40 {
		b := v2
		if i%2 == 1 {
			b = v1
		}
		if i%4 < 2 {
			replaceFile(t, city, b)
		} else {
			writeFile(t, city, b)
		}
		if i%3 == 0 {
			_ = p.Reload() // may race the poller; either loads it
		}
		reloads++
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if seenV1.Load() == 0 || seenV2.Load() == 0 {
		t.Fatalf("lookups saw v1 %d and v2 %d times; want both", seenV1.Load(), seenV2.Load())
	}
	t.Logf("%d lookups (v1 %d, v2 %d) during %d rewrites", lookups.Load(), seenV1.Load(), seenV2.Load(), reloads)
}

func TestCloseStopsPoller(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	city, asn := fixture(t)
	p, err := New(Config{Databases: []string{city, asn}, ReloadEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // let it poll
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	_, err = p.Enrich(context.Background(), enrichment.Request{Kind: "ipv4-addr", Value: "192.0.2.10"})
	if enrichment.Classify(err) != enrichment.ClassUnavailable {
		t.Fatalf("Enrich after Close: %v", err)
	}
	if err := p.Reload(); err == nil {
		t.Fatal("Reload after Close succeeded")
	}
	if p.Databases() != nil || p.Version() != "" {
		t.Fatal("databases still reported after Close")
	}
	// Manual-only provider: Close works too.
	q, err := New(Config{Databases: []string{city}, ReloadEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	_ = q.Close()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
