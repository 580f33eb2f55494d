package deploytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/testtool"
)

// haSub is the subscription of the HA tests' estate: one gallery, one image, many versions.
const haSub = "55555555-5555-5555-5555-555555555555"

// haEstate serves n live versions, 1.0.0 to 1.0.<n-1>, that next deletes one at a time.
type haEstate struct {
	url     string
	t       *testing.T
	n       int
	mu      sync.Mutex
	deleted int
}

func newHAEstate(t *testing.T, n int) *haEstate {
	t.Helper()
	versions := make([]string, n)
	for i := range versions {
		versions[i] = fmt.Sprintf("1.0.%d", i)
	}
	sim := armsim.New(armsim.Estate{Subscriptions: []armsim.Subscription{{ID: haSub, Galleries: []armsim.Gallery{{
		Name: "prod", ResourceGroup: "rg", Location: "West Europe",
		Images:     []armsim.Image{{Name: "app", Versions: versions}},
		SoftDelete: &armsim.SoftDeletePolicy{Enabled: true, RetentionDays: new(7)}}}}}}, armsim.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &haEstate{url: srv.URL, t: t, n: n}
}

// next deletes the next live version, if one is left.
func (e *haEstate) next() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.deleted == e.n {
		return
	}
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Compute/galleries/prod/images/app/versions/1.0.%d?api-version=2025-03-03", e.url, haSub, e.deleted), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Errorf("deleting 1.0.%d: %v", e.deleted, err)
		return
	}
	resp.Body.Close()
	e.deleted++
}

// allAnnounced waits until every version of e was deleted and announced through rx.
func (e *haEstate) allAnnounced(t *testing.T, rx *haReceiver, show ...func() string) {
	t.Helper()
	testtool.Eventually(t, 60*time.Second, "every deleted version announced", func() bool {
		seen := map[string]bool{}
		for _, d := range rx.deliveries() {
			for _, s := range d.subject {
				seen[s] = true
			}
		}
		return len(seen) == e.n
	}, show...)
}

// delivery is one webhook request a replica made: when, which replica, its events.
type delivery struct {
	at      time.Time
	replica string
	ids     []string
	subject []string // the versions' ids
}

// haReceiver is the webhook behind both replicas, at /<replica>. hold, when set, is called with
// each request before it is answered: the test kills a replica in the middle of a send there.
type haReceiver struct {
	mu   sync.Mutex
	got  []delivery
	hold func(d delivery)
}

func (r *haReceiver) serve(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Events []struct {
				ID      string `json:"id"`
				Version *struct {
					ID string `json:"id"`
				} `json:"version"`
			} `json:"events"`
		}
		raw, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("a webhook body that is not JSON: %v", err)
		}
		d := delivery{at: time.Now(), replica: strings.Trim(req.URL.Path, "/")}
		for _, e := range body.Events {
			d.ids = append(d.ids, e.ID)
			if e.Version != nil {
				d.subject = append(d.subject, e.Version.ID)
			}
		}
		r.mu.Lock()
		r.got = append(r.got, d)
		hold := r.hold
		r.mu.Unlock()
		if hold != nil {
			hold(d)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (r *haReceiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// haReplica is one purgewatch process of a group.
type haReplica struct {
	name string
	addr string
	cmd  *exec.Cmd
	logs *testtool.SyncBuffer
	done chan struct{}
}

// startReplica runs purgewatch as a user runs a replica: its own state file and address, the
// shared container, the estate and the receiver.
func startReplica(t *testing.T, name, arm, hook string, blob config.AzureBlob) *haReplica {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf(`azure: {auth: none, endpoint: %s}
scan: {schedule: "@every 1s"}
audit: {enabled: false}
notify:
  stateFile: %s
  routine: warn
  retry: {initial: 1s, max: 2s}
  channels:
    - {name: hook, type: webhook, url: %s/%s}
ha:
  backend: azure-blob
  identity: %s
  leaseDuration: 15s
  azureBlob: {serviceURL: %s, container: %s, auth: shared-key, accountName: %s, accountKey: %s}
`, arm, filepath.Join(dir, "state.db"), hook, name, name, blob.ServiceURL, blob.Container, blob.AccountName, blob.AccountKey)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &haReplica{name: name, addr: testtool.Addr(testtool.FreePort(t)), logs: &testtool.SyncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(binary, "run", "--config.file", cfg, "--web.listen-address", r.addr)
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
		if t.Failed() {
			t.Logf("replica %s:\n%s", name, r.logs.String())
		}
	})
	testtool.Eventually(t, 30*time.Second, "replica "+name+" to be ready", func() bool {
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, r.logs.String)
	return r
}

// metric reads one sample of the replica's /metrics, or "" when it has none.
func (r *haReplica) metric(series string) string {
	resp, err := http.Get("http://" + r.addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

func (r *haReplica) leads() bool {
	return r.metric(fmt.Sprintf(`purgewatch_leader{identity=%q}`, r.name)) == "1"
}

// Two replicas, a webhook, and the leader killed with SIGKILL in the middle of a send: every
// deleted version is announced, the one message in flight is the only one repeated (and counted
// as resent), and the standby leads within the lease and a scan.
func TestAStandbyTakesOverFromAKilledLeader(t *testing.T) {
	blob := testtool.Azurite(t, "purgewatch")
	const versions, leaseDuration, scan = 12, 15 * time.Second, time.Second
	estate := newHAEstate(t, versions)
	rx := &haReceiver{}
	hook := rx.serve(t)

	// Each delivery deletes the next version: the estate changes only as fast as messages go out.
	var (
		mu     sync.Mutex
		killed time.Time
		kill   = make(chan struct{})
		dead   = make(chan struct{})
	)
	a := startReplica(t, "a", estate.url, hook, blob)
	testtool.Eventually(t, 20*time.Second, "a to lead", a.leads, a.logs.String)
	b := startReplica(t, "b", estate.url, hook, blob)
	if b.leads() {
		t.Fatal("two leaders")
	}
	rx.mu.Lock()
	rx.hold = func(d delivery) {
		mu.Lock()
		third := d.replica == "a" && len(rx.deliveries()) >= 3 && killed.IsZero()
		if third {
			killed = d.at
		}
		mu.Unlock()
		if third { // the leader dies while this send is in flight: it never learns it was answered
			close(kill)
			<-dead
			return
		}
		estate.next()
	}
	rx.mu.Unlock()
	go func() {
		<-kill
		_ = a.cmd.Process.Kill()
		<-a.done
		close(dead)
	}()
	estate.next()
	estate.allAnnounced(t, rx, b.logs.String, func() string { return fmt.Sprintf("%d deliveries", len(rx.deliveries())) })

	ds := rx.deliveries()
	var firstB time.Time
	times := map[string]int{}
	repeated := 0
	for _, d := range ds {
		if d.replica == "b" && firstB.IsZero() {
			firstB = d.at
		}
		for _, id := range d.ids {
			if times[id]++; times[id] == 2 {
				repeated++
			}
		}
	}
	var inFlight []string
	for _, d := range ds {
		if d.replica == "a" && !d.at.Before(killed) {
			inFlight = append(inFlight, d.ids...)
		}
	}
	if len(inFlight) == 0 {
		t.Fatal("no send was in flight when a was killed")
	}
	if repeated > len(inFlight) {
		t.Errorf("%d events came twice; only the %d of the message in flight may", repeated, len(inFlight))
	}
	for _, id := range inFlight {
		if times[id] < 2 {
			t.Errorf("event %s, in flight when a died, was not sent again by b", id)
		}
	}
	resent := b.metric(`purgewatch_notifications_total{channel="hook",result="resent",type="webhook"}`)
	if resent != fmt.Sprint(len(inFlight)) {
		t.Errorf("b counts %q events resent; it resent the %d in flight", resent, len(inFlight))
	}
	took := firstB.Sub(killed)
	t.Logf("a killed with a send in flight; b's first send %s later (lease %s, scan every %s); %d deliveries, %d events repeated",
		took.Round(10*time.Millisecond), leaseDuration, scan, len(ds), repeated)
	if took > leaseDuration+poll+scan+3*time.Second {
		t.Errorf("b sent first %s after a died; within the lease (%s) and a scan it should", took, leaseDuration)
	}
}

// poll is how often a standby asks for the lease (internal/ha).
const poll = time.Second

// partition forwards a replica's connections to Azure Storage until cut: then every connection
// is dropped and every new one refused, as when the replica's network fails.
type partition struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newPartition(t *testing.T, target string) *partition {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &partition{ln: ln}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
			p.wg.Go(func() { _, _ = io.Copy(c, up); c.Close() })
		}
	})
	t.Cleanup(func() { p.cut(); p.wg.Wait() })
	return p
}

func (p *partition) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// A leader cut off from Azure Storage stops sending before its lease can be another's: every send
// it makes comes before the cut (each needs a write under the lease), and the standby sends only
// once the lease has run out, then announces everything.
func TestAPartitionedLeaderStopsSendingBeforeItsLeaseEnds(t *testing.T) {
	blob := testtool.Azurite(t, "purgewatch")
	const versions = 8
	estate := newHAEstate(t, versions)
	rx := &haReceiver{}
	hook := rx.serve(t)
	storage := strings.TrimPrefix(strings.TrimSuffix(blob.ServiceURL, "/"+testtool.AzuriteAccount), "http://")
	net := newPartition(t, storage)
	cutOff := blob
	cutOff.ServiceURL = "http://" + net.ln.Addr().String() + "/" + testtool.AzuriteAccount

	var (
		mu  sync.Mutex
		cut time.Time
	)
	a := startReplica(t, "a", estate.url, hook, cutOff)
	testtool.Eventually(t, 20*time.Second, "a to lead", a.leads, a.logs.String)
	b := startReplica(t, "b", estate.url, hook, blob)
	rx.mu.Lock()
	rx.hold = func(d delivery) {
		mu.Lock()
		if d.replica == "a" && len(rx.deliveries()) >= 3 && cut.IsZero() {
			net.cut() // between this send and the next: a's network to the storage fails
			cut = time.Now()
		}
		mu.Unlock()
		estate.next()
	}
	rx.mu.Unlock()
	estate.next()
	estate.allAnnounced(t, rx, b.logs.String, a.logs.String)
	var lastA, firstB time.Time
	for _, d := range rx.deliveries() {
		switch {
		case d.replica == "a":
			lastA = d.at
		case firstB.IsZero():
			firstB = d.at
		}
	}
	if lastA.After(cut) {
		t.Errorf("a sent %s after it was cut off from the storage", lastA.Sub(cut))
	}
	if !firstB.After(lastA) {
		t.Error("b sent before a's last send")
	}
	t.Logf("a cut off; its last send at the cut, b's first %s after it", firstB.Sub(cut).Round(10*time.Millisecond))
	if a.leads() {
		t.Error("a, cut off from the storage, still says it leads")
	}
}
