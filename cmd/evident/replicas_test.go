package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/ledger"
)

// replica is an `evident serve` process of the replicas test.
type replica struct {
	name   string
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	done   chan error
}

var servingURL = regexp.MustCompile(`msg="evident is serving" url=(http://\S+)`)

// startReplica runs `evident serve` with the arguments in a child process and waits
// until it listens. It is stopped with SIGTERM when the test ends, if it still runs.
func startReplica(tb testing.TB, name string, args ...string) *replica {
	tb.Helper()
	b, _ := json.Marshal(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	r := &replica{name: name, stderr: &syncBuffer{}, done: make(chan error, 1)}
	r.cmd = exec.Command(os.Args[0], "-test.run=^$")
	r.cmd.Env = append(os.Environ(), serveChildEnv+"="+string(b))
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, r.stderr
	if err := r.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	tb.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	deadline := time.After(time.Minute)
	for {
		if m := servingURL.FindStringSubmatch(r.stderr.String()); m != nil {
			r.url = m[1]
			return r
		}
		select {
		case err := <-r.done:
			tb.Fatalf("%s ended before serving (%v):\n%s", name, err, r.stderr.String())
		case <-deadline:
			tb.Fatalf("%s is not serving after a minute:\n%s", name, r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop ends the replica with SIGTERM and checks that it shut down cleanly.
func (r *replica) stop(tb testing.TB) {
	tb.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatalf("signal %s: %v", r.name, err)
	}
	select {
	case err := <-r.done:
		if err != nil {
			tb.Errorf("%s after SIGTERM: %v\n%s", r.name, err, r.stderr.String())
		}
	case <-time.After(time.Minute):
		tb.Fatalf("%s has not stopped a minute after SIGTERM", r.name)
	}
}

// apiClient calls a replica's API with a token.
type apiClient struct {
	tb    testing.TB
	base  string
	token string
	http  *http.Client
}

// do sends a request and decodes a JSON answer into out, failing unless the status is want.
func (c *apiClient) do(method, path, contentType string, body io.Reader, want int, out any) {
	c.tb.Helper()
	req, err := http.NewRequest(method, c.base+"/api/v1"+path, body)
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.tb.Errorf("%s %s: %v", method, path, err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Errorf("%s %s: read: %v", method, path, err)
		return
	}
	if resp.StatusCode != want {
		c.tb.Errorf("%s %s = %d; want %d\n%s", method, path, resp.StatusCode, want, b)
		return
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.tb.Errorf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// apiItem is what the test reads of an item the API added.
type apiItem struct {
	ID          int64  `json:"id"`
	SHA256      string `json:"sha256"`
	LedgerIndex int64  `json:"ledger_index"`
}

// apiNote is what the test reads of a checkpoint the API serves.
type apiNote struct {
	Size int64  `json:"size"`
	Note string `json:"note"`
}

// latestCheckpoint returns the latest checkpoint's signed note, as the API serves it to
// auditors, and false when none has been published yet.
func (c *apiClient) latestCheckpoint() (string, bool) {
	c.tb.Helper()
	resp, err := c.http.Do(authGet(c.tb, c, "/ledger/checkpoints/latest"))
	if err != nil {
		c.tb.Errorf("GET /ledger/checkpoints/latest: %v", err)
		return "", false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusOK:
		return string(b), true
	case http.StatusNotFound:
		return "", false
	}
	c.tb.Errorf("GET /ledger/checkpoints/latest = %d\n%s", resp.StatusCode, b)
	return "", false
}

// addNote adds a note through the API.
func (c *apiClient) addNote(controlID int64, title string) apiItem {
	c.tb.Helper()
	body, _ := json.Marshal(map[string]any{
		"kind": "note", "title": title, "control_ids": []int64{controlID},
		"period_start": "2026-01-01", "period_end": "2026-03-31", "note": "Reviewed by " + title + ".",
	})
	var it apiItem
	c.do("POST", "/evidence", "application/json", bytes.NewReader(body), http.StatusCreated, &it)
	return it
}

// addFile uploads a file through the API as a browser form would.
func (c *apiClient) addFile(controlID int64, title string, content []byte) apiItem {
	c.tb.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range [][2]string{
		{"kind", "file"}, {"title", title}, {"control_id", fmt.Sprint(controlID)},
		{"period_start", "2026-01-01"}, {"period_end", "2026-03-31"},
	} {
		_ = mw.WriteField(f[0], f[1])
	}
	fw, _ := mw.CreateFormFile("file", strings.ReplaceAll(title, " ", "-")+".txt")
	fw.Write(content)
	mw.Close()
	var it apiItem
	c.do("POST", "/evidence", mw.FormDataContentType(), &b, http.StatusCreated, &it)
	return it
}

// The size of the replicas test: writers per replica, and items each writer adds.
const (
	replicaWriters = 4
	replicaItems   = 12
)

// TestReplicasShareOneLedger runs two `evident serve` processes against one PostgreSQL
// database, one S3 bucket and one signing key, adds evidence to the same organization
// through both at once, and checks that the ledger is one consistent log: indexes without
// gaps or repeats, the root of the entries equal to the stored tree's, and every
// checkpoint either replica published consistent with it.
func TestReplicasShareOneLedger(t *testing.T) {
	dsn := postgresURL(t)
	c := newCLI(t)
	c.env[envDatabase] = dsn
	c.ok(nil, "migrate")
	c.ok(nil, "org", "create", "acme", "--name", "Acme Cloud, Inc.")
	c.ok(strings.NewReader("correct horse battery\n"), "user", "create", "--org", "acme", "--email", "lead@acme.example", "--role", "owner", "--name", "Lead")
	token := strings.TrimSpace(c.ok(nil, "token", "create", "--email", "lead@acme.example"))

	// One bucket and one signing key for both, as the README asks.
	const s3Secret = "replica-s3-secret"
	s3 := s3mem.New()
	if err := s3.CreateBucket("evidence"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(s3).Server())
	t.Cleanup(s3srv.Close)
	blobsURL := "s3://TESTKEY:" + s3Secret + "@evidence/replicas/?endpoint=" + url.QueryEscape(s3srv.URL) + "&region=us-east-1&path_style=true"
	keyPath := filepath.Join(t.TempDir(), "ledger.key")
	_, vkey, err := evidence.LoadOrCreateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"--database", dsn, "--ledger-key", keyPath, "--blobs", blobsURL, "--checkpoint-interval", "1s"}
	replicas := []*replica{
		startReplica(t, "replica A", append([]string{"--data", filepath.Join(t.TempDir(), "a")}, common...)...),
		startReplica(t, "replica B", append([]string{"--data", filepath.Join(t.TempDir(), "b")}, common...)...),
	}

	st := c.openStore()
	ctx := context.Background()
	org, err := st.OrganizationBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := st.ControlByRef(ctx, org.ID, "AC-01")
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu    sync.Mutex
		items = map[int64]apiItem{}
		files = map[int64][]byte{}
		notes []string
		wg    sync.WaitGroup
	)
	clients := make([]*apiClient, len(replicas))
	for i, r := range replicas {
		clients[i] = &apiClient{tb: t, base: r.url, token: token, http: &http.Client{Timeout: time.Minute}}
	}
	for ri, cl := range clients {
		for w := range replicaWriters {
			wg.Go(func() {
				for k := range replicaItems {
					title := fmt.Sprintf("replica %d writer %d item %d", ri, w, k)
					var it apiItem
					var content []byte
					if k%4 == 3 {
						content = bytes.Repeat([]byte(title+"\n"), (domain.MaxInlineContent/len(title))+64)
						it = cl.addFile(ctl.ID, title, content)
					} else {
						it = cl.addNote(ctl.ID, title)
					}
					if it.ID == 0 {
						return
					}
					mu.Lock()
					items[it.ID] = it
					if content != nil {
						files[it.ID] = content
					}
					mu.Unlock()
					// Now and then a checkpoint on demand, as the ledger page's button
					// signs one, while the other replica appends.
					if w == 0 && k%4 == 1 {
						var cp apiNote
						cl.do("POST", "/ledger/checkpoints", "", nil, http.StatusOK, &cp)
						mu.Lock()
						notes = append(notes, cp.Note)
						mu.Unlock()
					}
				}
			})
		}
		// Read the latest checkpoint now and then while the writers write.
		wg.Go(func() {
			for range 5 {
				if note, ok := cl.latestCheckpoint(); ok {
					mu.Lock()
					notes = append(notes, note)
					mu.Unlock()
				}
				time.Sleep(300 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if want := len(replicas) * replicaWriters * replicaItems; len(items) != want {
		t.Fatalf("the API acknowledged %d distinct items; want %d", len(items), want)
	}

	// Each replica publishes one now, and serves the files the other stored.
	for i, cl := range clients {
		var cp apiNote
		cl.do("POST", "/ledger/checkpoints", "", nil, http.StatusOK, &cp)
		notes = append(notes, cp.Note)
		other := clients[1-i]
		for id, content := range files {
			resp, err := other.http.Do(authGet(t, other, fmt.Sprintf("/evidence/%d/content", id)))
			if err != nil {
				t.Fatalf("content of %d through %s: %v", id, replicas[1-i].name, err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
				t.Errorf("content of item %d through %s: status %d, %d bytes; want the %d bytes uploaded", id, replicas[1-i].name, resp.StatusCode, len(got), len(content))
			}
			break
		}
	}
	for _, r := range replicas {
		r.stop(t)
	}

	mem, entries := ledgerTree(t, st, org.ID)
	n := mem.Size()
	stored, err := ledger.TreeRoot(n, st.LedgerHashReader(ctx, org.ID))
	if err != nil {
		t.Fatal(err)
	}
	if root, err := mem.Root(); err != nil || root != stored {
		t.Fatalf("the root recomputed from the %d entries is %v (%v); the stored hashes give %v", n, root, err, stored)
	}
	seen := map[int64]int64{}
	for id, it := range items {
		if other, dup := seen[it.LedgerIndex]; dup {
			t.Errorf("items %d and %d were both acknowledged at ledger index %d", other, id, it.LedgerIndex)
		}
		seen[it.LedgerIndex] = id
		if it.LedgerIndex >= n || entries[it.LedgerIndex].Subject != fmt.Sprintf("evidence:%d", id) {
			t.Errorf("item %d acknowledged at ledger index %d, which does not record it", id, it.LedgerIndex)
		}
		e, err := st.Evidence(ctx, org.ID, id)
		if err != nil || e.SHA256 != it.SHA256 {
			t.Errorf("item %d: %v, %v; want it stored with sha256 %s", id, e, err, it.SHA256)
		}
	}
	published, err := st.ListCheckpoints(ctx, org.ID, domain.CheckpointFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range published {
		notes = append(notes, cp.Note)
	}
	last, err := st.LatestCheckpoint(ctx, org.ID)
	if err != nil || last.Size != n {
		t.Errorf("latest checkpoint after shutdown: %v, %v; want one of the whole ledger, %d entries", last, err, n)
	}
	for _, note := range notes {
		cp, err := ledger.ParseCheckpoint([]byte(note), vkey)
		if err != nil {
			t.Errorf("checkpoint does not verify with the shared key: %v\n%s", err, note)
			continue
		}
		if root, err := ledger.TreeRoot(cp.Size, mem); cp.Size > n || err != nil || root != cp.Root {
			t.Errorf("checkpoint of size %d (root %v) is not consistent with the final ledger of %d entries", cp.Size, cp.Root, n)
		}
	}
	t.Logf("two replicas: %d items, %d ledger entries, %d checkpoints published, %d checkpoints checked", len(items), n, len(published), len(notes))

	for _, r := range replicas {
		logs := r.stderr.String()
		for _, secret := range []string{s3Secret, token} {
			if strings.Contains(logs, secret) {
				t.Errorf("%s logged a secret:\n%s", r.name, logs)
			}
		}
	}
}

// authGet is a GET request to the API with the client's token.
func authGet(tb testing.TB, c *apiClient, path string) *http.Request {
	tb.Helper()
	req, err := http.NewRequest("GET", c.base+"/api/v1"+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	return req
}
