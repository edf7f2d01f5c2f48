package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The credentials the tests configure, and the temporary ones the fake STS hands out for
// an assumed role.
const (
	testAccessKey     = "AKIAEVIDENTTEST00001"
	testSecretKey     = "evidentTestSecretKey/DoNotLeak+0000000001"
	testSessionToken  = "evidentTestSessionTokenDoNotLeak"
	assumedAccessKey  = "ASIAEVIDENTASSUMED01"
	assumedSecretKey  = "evidentAssumedSecret/DoNotLeak+00000002"
	assumedTokenValue = "evidentAssumedSessionTokenDoNotLeak"
	testAccount       = "123456789012"
)

// fakeAWS is a local server that answers like AWS: it reads the service and region from
// the SigV4 Authorization header, the operation from the Action form field (query
// protocols), the X-Amz-Target header (JSON 1.1) or the path (REST protocols), and
// replies with the fixture file for that operation from testdata/aws.
//
// Fixture files live in testdata/aws/SERVICE[/REGION]/OPERATION[@RESOURCE][@TOKEN][.STATUS].EXT,
// where RESOURCE is the user, access key, bucket, key, trail or detector the request
// names, TOKEN its pagination token, and STATUS the HTTP status (200 when absent).
type fakeAWS struct {
	tb  testing.TB
	srv *httptest.Server
	dir string

	mu sync.Mutex
	// transient fixtures are answered once each, in order, before the normal answer:
	// throttling and 5xx responses the SDK must retry through. Keys are
	// "SERVICE/REGION/OPERATION" or "SERVICE/OPERATION".
	transient map[string][]string
	// override fixtures replace the normal answer of an operation for every call.
	override map[string]string
	// hang lists operations that never answer: the request waits until the client gives
	// up and closes it.
	hang map[string]bool
	// key is the access key requests must be signed with (AssumeRole always takes the
	// configured one).
	key      string
	requests []fakeRequest
}

// fakeRequest is what the fake saw of one request.
type fakeRequest struct {
	Service, Region, Operation, Selector, AccessKey string
	Status                                          int
}

func newFakeAWS(tb testing.TB) *fakeAWS {
	tb.Helper()
	f := &fakeAWS{
		tb:        tb,
		dir:       filepath.Join("testdata", "aws"),
		transient: map[string][]string{},
		override:  map[string]string{},
		hang:      map[string]bool{},
		key:       testAccessKey,
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

// client returns an HTTP client that reaches the fake whatever host a request names, as
// S3 Control prefixes the endpoint's host with the account ID.
func (f *fakeAWS) client() *http.Client {
	addr := f.srv.Listener.Addr().String()
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// count returns how many requests reached an operation, in any region when region is "".
func (f *fakeAWS) count(service, region, op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.Service == service && r.Operation == op && (region == "" || r.Region == region) {
			n++
		}
	}
	return n
}

func (f *fakeAWS) seen() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

var credentialScope = regexp.MustCompile(`Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request`)

func (f *fakeAWS) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m := credentialScope.FindStringSubmatch(req.Header.Get("Authorization"))
	if m == nil {
		f.tb.Errorf("%s %s: request is not signed with SigV4", req.Method, req.URL)
		writeError(w, 403, "text/xml", `<ErrorResponse><Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code><Message>Request is missing Authentication Token</Message></Error></ErrorResponse>`)
		return
	}
	fr := fakeRequest{AccessKey: m[1], Region: m[2], Service: m[3]}
	contentType := "text/xml"
	var resource, token string

	switch fr.Service {
	case "iam", "sts", "ec2", "rds":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			f.tb.Errorf("%s: form body: %v", fr.Service, err)
		}
		fr.Operation = form.Get("Action")
		resource = first(form.Get("UserName"), form.Get("AccessKeyId"))
		token = first(form.Get("Marker"), form.Get("NextToken"))
	case "cloudtrail", "kms", "config", "organizations":
		contentType = "application/x-amz-json-1.1"
		target := req.Header.Get("X-Amz-Target")
		fr.Operation = target[strings.LastIndex(target, ".")+1:]
		if req.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
			f.tb.Errorf("%s %s: Content-Type %q", fr.Service, target, req.Header.Get("Content-Type"))
		}
		var in map[string]any
		if len(body) > 0 {
			if err := json.Unmarshal(body, &in); err != nil {
				f.tb.Errorf("%s %s: JSON body: %v", fr.Service, target, err)
			}
		}
		str := func(k string) string { s, _ := in[k].(string); return s }
		resource = lastSegment(first(str("KeyId"), str("Name"), str("TrailName")))
		token = first(str("Marker"), str("NextToken"))
	case "guardduty":
		contentType = "application/json"
		parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
		switch {
		case req.Method == http.MethodGet && len(parts) == 1 && parts[0] == "detector":
			fr.Operation = "ListDetectors"
		case req.Method == http.MethodGet && len(parts) == 2 && parts[0] == "detector":
			fr.Operation, resource = "GetDetector", parts[1]
		}
		token = req.URL.Query().Get("nextToken")
	case "account":
		contentType = "application/json"
		if req.Method == http.MethodPost && req.URL.Path == "/getAlternateContact" {
			fr.Operation = "GetAlternateContact"
			var in struct{ AlternateContactType string }
			if err := json.Unmarshal(body, &in); err != nil || in.AlternateContactType != "SECURITY" {
				f.tb.Errorf("account GetAlternateContact: body %s", body)
			}
		}
	case "s3":
		fr.Operation, resource, token = s3Operation(req)
		if strings.HasPrefix(req.URL.Path, "/v20180820/") {
			// S3 Control signs as s3 but is its own API, reached on ACCOUNT.HOST.
			fr.Service = "s3control"
			if req.Header.Get("X-Amz-Account-Id") != testAccount || !strings.HasPrefix(req.Host, testAccount+".") {
				f.tb.Errorf("s3control %s: host %q, x-amz-account-id %q", req.URL.Path, req.Host, req.Header.Get("X-Amz-Account-Id"))
			}
		}
	}
	fr.Selector = strings.Join(nonEmpty(resource, token), "@")

	f.mu.Lock()
	hang := f.hang[fr.Service+"/"+fr.Region+"/"+fr.Operation]
	f.mu.Unlock()
	if hang {
		fr.Status = 0
		f.mu.Lock()
		f.requests = append(f.requests, fr)
		f.mu.Unlock()
		<-req.Context().Done()
		return
	}

	wantKey := f.key
	if fr.Service == "sts" && fr.Operation == "AssumeRole" {
		wantKey = testAccessKey
	}
	file := f.pick(fr)
	if fr.AccessKey != wantKey {
		file = "errors/invalid-client-token.403.xml"
	}
	status, payload := f.load(fr, file)
	fr.Status = status
	f.mu.Lock()
	f.requests = append(f.requests, fr)
	f.mu.Unlock()
	if status >= 400 && strings.HasSuffix(file, ".json") && contentType == "application/json" {
		var e struct {
			Type string `json:"__type"`
		}
		if json.Unmarshal(payload, &e) == nil && e.Type != "" {
			w.Header().Set("X-Amzn-ErrorType", e.Type)
		}
	}
	if fr.Service == "s3" && strings.HasSuffix(file, ".json") {
		contentType = "application/json" // GetBucketPolicy returns the policy itself.
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("req-%d", len(f.seen())))
	w.WriteHeader(status)
	w.Write(payload)
}

// pick chooses the fixture for a request: a pending transient one, an override, or the
// operation's own file.
func (f *fakeAWS) pick(fr fakeRequest) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, key := range []string{fr.Service + "/" + fr.Region + "/" + fr.Operation, fr.Service + "/" + fr.Operation} {
		if q := f.transient[key]; len(q) > 0 {
			f.transient[key] = q[1:]
			return q[0]
		}
	}
	for _, key := range []string{fr.Service + "/" + fr.Region + "/" + fr.Operation, fr.Service + "/" + fr.Operation} {
		if o, ok := f.override[key]; ok {
			return o
		}
	}
	return ""
}

var statusSuffix = regexp.MustCompile(`\.(\d{3})$`)

// load reads a fixture: the named one, or the operation's file in the region's folder or
// the service's.
func (f *fakeAWS) load(fr fakeRequest, name string) (int, []byte) {
	if name == "" {
		base := fr.Operation
		if fr.Selector != "" {
			base += "@" + fr.Selector
		}
		for _, dir := range []string{path.Join(fr.Service, fr.Region), fr.Service} {
			if found := f.find(dir, base); found != "" {
				name = found
				break
			}
		}
	}
	if name == "" {
		f.tb.Errorf("no fixture for %s %s %s (selector %q)", fr.Service, fr.Region, fr.Operation, fr.Selector)
		return 400, []byte(`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>no fixture</Message></Error></ErrorResponse>`)
	}
	data, err := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(name)))
	if err != nil {
		f.tb.Errorf("fixture %s: %v", name, err)
		return 500, nil
	}
	status := 200
	stem := strings.TrimSuffix(name, path.Ext(name))
	if m := statusSuffix.FindStringSubmatch(stem); m != nil {
		status, _ = strconv.Atoi(m[1])
	}
	return status, data
}

// find returns the fixture in dir whose name, less extension and status, is base.
func (f *fakeAWS) find(dir, base string) string {
	entries, err := os.ReadDir(filepath.Join(f.dir, filepath.FromSlash(dir)))
	if err != nil {
		return ""
	}
	for _, e := range entries {
		stem := strings.TrimSuffix(e.Name(), path.Ext(e.Name()))
		stem = statusSuffix.ReplaceAllString(stem, "")
		if !e.IsDir() && stem == base {
			return path.Join(dir, e.Name())
		}
	}
	return ""
}

// s3Operation names the S3 or S3 Control operation of a path-style request.
func s3Operation(req *http.Request) (op, bucket, token string) {
	q := req.URL.Query()
	if strings.HasPrefix(req.URL.Path, "/v20180820/") {
		if req.Method == http.MethodGet && req.URL.Path == "/v20180820/configuration/publicAccessBlock" {
			return "GetPublicAccessBlock", "", ""
		}
		return "", "", ""
	}
	bucket = strings.Trim(req.URL.Path, "/")
	if bucket == "" {
		return "ListBuckets", "", q.Get("continuation-token")
	}
	subresources := []struct{ query, op string }{
		{"encryption", "GetBucketEncryption"},
		{"publicAccessBlock", "GetPublicAccessBlock"},
		{"policyStatus", "GetBucketPolicyStatus"},
		{"acl", "GetBucketAcl"},
		{"policy", "GetBucketPolicy"},
		{"versioning", "GetBucketVersioning"},
		{"logging", "GetBucketLogging"},
		{"tagging", "GetBucketTagging"},
		{"location", "GetBucketLocation"},
	}
	for _, s := range subresources {
		if _, ok := q[s.query]; ok && req.Method == http.MethodGet {
			return s.op, bucket, ""
		}
	}
	return "", bucket, ""
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func nonEmpty(values ...string) []string {
	var out []string
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// lastSegment shortens an ARN to its last path segment, so fixture names stay readable.
func lastSegment(s string) string {
	return s[strings.LastIndex(s, "/")+1:]
}

func writeError(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	io.WriteString(w, body)
}
