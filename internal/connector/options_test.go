package connector

import (
	"net/http"
	"testing"
	"time"
)

func TestHTTPOptionsWithDefaults(t *testing.T) {
	def := HTTPOptions{Timeout: 30 * time.Second, MaxAttempts: 5, MaxBackoff: 30 * time.Second, MaxWait: 5 * time.Minute}
	tests := []struct {
		name string
		in   HTTPOptions
		want HTTPOptions
	}{
		{"zero takes every default", HTTPOptions{}, def},
		{"set values stay", HTTPOptions{Timeout: time.Second, MaxAttempts: 2, MaxBackoff: time.Millisecond, MaxWait: time.Minute},
			HTTPOptions{Timeout: time.Second, MaxAttempts: 2, MaxBackoff: time.Millisecond, MaxWait: time.Minute}},
		{"negative values take defaults", HTTPOptions{Timeout: -1, MaxAttempts: -1}, def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.WithDefaults(def)
			if got.Now == nil {
				t.Fatal("WithDefaults() left Now nil")
			}
			if got.Timeout != tt.want.Timeout || got.MaxAttempts != tt.want.MaxAttempts || got.MaxBackoff != tt.want.MaxBackoff || got.MaxWait != tt.want.MaxWait {
				t.Errorf("WithDefaults(%+v) = %+v; want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestHTTPOptionsClientKeepsCallerClient(t *testing.T) {
	jar := &http.Client{Timeout: 7 * time.Second}
	o := HTTPOptions{HTTPClient: jar, MaxAttempts: 3}.WithDefaults(HTTPOptions{})
	rt := o.Retry(o.Transport(), nil)
	hc := o.Client(rt)
	if hc == jar || hc.Timeout != 7*time.Second || hc.Transport != rt {
		t.Errorf("Client() = %+v; want a copy of the caller's client sending through the retry", hc)
	}
	if jar.Transport != nil {
		t.Errorf("Client() changed the caller's client transport to %v", jar.Transport)
	}
	if rt.MaxAttempts != 3 || rt.Next != http.DefaultTransport {
		t.Errorf("Retry() = %+v; want 3 attempts over the caller's (default) transport", rt)
	}
	if _, ok := (HTTPOptions{}).Transport().(*http.Transport); !ok {
		t.Errorf("Transport() without a client is not a tuned *http.Transport")
	}
}
