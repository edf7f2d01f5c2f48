package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

func TestAlertsConfig(t *testing.T) {
	m := NewMain()
	env := map[string]string{envAlertsAllowPrivate: "true", envAlertsAllowNets: "10.20.0.0/16, 192.168.1.10"}
	m.Getenv = func(k string) string { return env[k] }
	if err := m.ParseFlags(context.Background(), []string{"serve"}); err != nil {
		t.Fatal(err)
	}
	if !m.Config.AlertsAllowPrivate || m.Config.AlertsAllowNetworks != "10.20.0.0/16, 192.168.1.10" {
		t.Errorf("Config from the environment = %v, %q; want private allowed and the networks", m.Config.AlertsAllowPrivate, m.Config.AlertsAllowNetworks)
	}
	m = NewMain()
	m.Getenv = func(k string) string { return env[k] }
	if err := m.ParseFlags(context.Background(), []string{"serve", "--alerts-allow-private=false", "--alerts-allow-networks", "fd12::/48"}); err != nil {
		t.Fatal(err)
	}
	if m.Config.AlertsAllowPrivate || m.Config.AlertsAllowNetworks != "fd12::/48" {
		t.Errorf("Config from flags over the environment = %v, %q", m.Config.AlertsAllowPrivate, m.Config.AlertsAllowNetworks)
	}

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad network flag", nil, []string{"serve", "--alerts-allow-networks", "10.0.0.0/33"}, `--alerts-allow-networks: "10.0.0.0/33" is not a CIDR`},
		{"bad network variable", map[string]string{envAlertsAllowNets: "intranet"}, []string{"serve"}, `--alerts-allow-networks: "intranet" is not an IP address or a CIDR`},
		{"bad boolean", map[string]string{envAlertsAllowPrivate: "sometimes"}, []string{"serve"}, `EVIDENT_ALERTS_ALLOW_PRIVATE: "sometimes" is not a boolean`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			for k, v := range tc.env {
				c.env[k] = v
			}
			o := c.run(nil, tc.args...)
			if o.code == 0 || !strings.Contains(o.stderr, tc.want) {
				t.Errorf("evident %s: exit %d, stderr %q; want a failure and %q", strings.Join(tc.args, " "), o.code, o.stderr, tc.want)
			}
		})
	}

	help := newCLI(t).ok(nil, "help", "serve")
	for _, want := range []string{"--alerts-allow-private", "--alerts-allow-networks", envAlertsAllowPrivate, "signed generic"} {
		if !strings.Contains(help, want) {
			t.Errorf("serve's help does not mention %s", want)
		}
	}
}

// TestDemoAlertTargets adds a Slack target on this machine and sends it a test alert
// through the running demonstration: refused by default, delivered once private
// addresses are allowed.
func TestDemoAlertTargets(t *testing.T) {
	var posts atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		posts.Add(1)
	}))
	defer receiver.Close()
	add := url.Values{"kind": {"slack"}, "name": {"Slack #security"}, "url": {receiver.URL + "/services/T0/B0/secret-path"},
		"events": {"failing", "recovered"}, "min_severity": {"low"}, "enabled": {"on"}}

	strict := newCLI(t)
	m, _ := strict.startDemo()
	client := signIn(t, m.URL(), m.Demo.Email, m.Demo.Password)
	resp, err := client.PostForm(m.URL()+"/alerts/targets", add)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "loopback address") {
		t.Fatalf("adding a loopback target by default = %d; want 400 naming the loopback address", resp.StatusCode)
	}

	open := newCLI(t)
	open.env[envAlertsAllowPrivate] = "true"
	m, _ = open.startDemo()
	client = signIn(t, m.URL(), m.Demo.Email, m.Demo.Password)
	resp, err = client.PostForm(m.URL()+"/alerts/targets", add)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/alerts/targets" {
		t.Fatalf("adding the target with private addresses allowed = %d at %s; want the targets page", resp.StatusCode, resp.Request.URL)
	}
	_, page := get(t, client, m.URL()+"/alerts/targets")
	match := regexp.MustCompile(`action="/alerts/targets/(\d+)/test"`).FindStringSubmatch(page)
	if match == nil || strings.Contains(page, "secret-path") {
		t.Fatalf("the targets page has no test button, or shows the URL's path:\n%s", page)
	}
	resp, err = client.PostForm(m.URL()+"/alerts/targets/"+match[1]+"/test", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Delivered.") || posts.Load() != 1 {
		t.Errorf("test alert = %d, %d posts received; want delivered once", resp.StatusCode, posts.Load())
	}
}
