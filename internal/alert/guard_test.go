package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		addr string
		want Class
	}{
		{"public ipv4", "93.184.215.14", ClassPublic},
		{"public ipv4 next to private", "172.32.0.1", ClassPublic},
		{"public ipv4 below cgnat", "100.63.255.255", ClassPublic},
		{"unspecified ipv4", "0.0.0.0", ClassUnspecified},
		{"this network", "0.1.2.3", ClassReserved},
		{"rfc1918 10/8", "10.1.2.3", ClassPrivate},
		{"rfc1918 172.16/12 low", "172.16.0.1", ClassPrivate},
		{"rfc1918 172.16/12 high", "172.31.255.254", ClassPrivate},
		{"rfc1918 192.168/16", "192.168.1.1", ClassPrivate},
		{"cgnat low", "100.64.0.1", ClassShared},
		{"cgnat high", "100.127.255.254", ClassShared},
		{"loopback", "127.0.0.1", ClassLoopback},
		{"loopback elsewhere in 127/8", "127.10.20.30", ClassLoopback},
		{"link-local", "169.254.1.1", ClassLinkLocal},
		{"cloud metadata", "169.254.169.254", ClassLinkLocal},
		{"ietf protocol assignments", "192.0.0.8", ClassReserved},
		{"test-net-1", "192.0.2.10", ClassDocumentation},
		{"test-net-2", "198.51.100.10", ClassDocumentation},
		{"test-net-3", "203.0.113.10", ClassDocumentation},
		{"6to4 relay anycast", "192.88.99.1", ClassReserved},
		{"benchmarking", "198.19.0.1", ClassReserved},
		{"multicast ipv4", "224.0.0.251", ClassMulticast},
		{"multicast ipv4 high", "239.255.255.250", ClassMulticast},
		{"reserved class e", "240.0.0.1", ClassReserved},
		{"broadcast", "255.255.255.255", ClassReserved},

		{"public ipv6", "2606:4700:4700::1111", ClassPublic},
		{"unspecified ipv6", "::", ClassUnspecified},
		{"loopback ipv6", "::1", ClassLoopback},
		{"unique local fc00::/7", "fc00::1", ClassPrivate},
		{"unique local fd", "fd12:3456:789a::1", ClassPrivate},
		{"aws metadata ipv6", "fd00:ec2::254", ClassPrivate},
		{"site-local deprecated", "fec0::1", ClassPrivate},
		{"link-local ipv6", "fe80::1", ClassLinkLocal},
		{"link-local ipv6 with zone", "fe80::1%eth0", ClassLinkLocal},
		{"multicast ipv6", "ff02::1", ClassMulticast},
		{"documentation 2001:db8", "2001:db8::1", ClassDocumentation},
		{"documentation 3fff::/20", "3fff::1", ClassDocumentation},
		{"teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2", ClassReserved},
		{"ietf protocol assignments ipv6", "2001:2::1", ClassReserved},
		{"discard-only", "100::1", ClassReserved},
		{"local-use nat64", "64:ff9b:1::a00:1", ClassReserved},
		{"srv6", "5f00::1", ClassReserved},
		{"ipv4-compatible", "::127.0.0.1", ClassReserved},
		{"outside global unicast", "4000::1", ClassReserved},

		{"ipv4-mapped loopback", "::ffff:127.0.0.1", ClassLoopback},
		{"ipv4-mapped private", "::ffff:10.0.0.1", ClassPrivate},
		{"ipv4-mapped metadata", "::ffff:169.254.169.254", ClassLinkLocal},
		{"ipv4-mapped public", "::ffff:93.184.215.14", ClassPublic},
		{"nat64 of private", "64:ff9b::10.0.0.1", ClassPrivate},
		{"nat64 of public", "64:ff9b::93.184.215.14", ClassPublic},
		{"6to4 of loopback", "2002:7f00:1::1", ClassLoopback},
		{"6to4 of public", "2002:5db8:d70e::1", ClassPublic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			if got := Classify(ip); got != tt.want {
				t.Errorf("Classify(%s) = %s; want %s", tt.addr, got, tt.want)
			}
		})
	}
	if got := Classify(netip.Addr{}); got != ClassReserved {
		t.Errorf("Classify(zero Addr) = %s; want %s", got, ClassReserved)
	}
}

func TestGuardCheck(t *testing.T) {
	internal := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("169.254.169.254/32")}
	tests := []struct {
		name  string
		guard Guard
		addr  string
		allow bool
	}{
		{"public", Guard{}, "93.184.215.14", true},
		{"loopback refused", Guard{}, "127.0.0.1", false},
		{"mapped loopback refused", Guard{}, "::ffff:127.0.0.1", false},
		{"private refused", Guard{}, "192.168.1.20", false},
		{"cgnat refused", Guard{}, "100.100.1.1", false},
		{"metadata refused", Guard{}, "169.254.169.254", false},
		{"loopback with allow private", Guard{AllowPrivate: true}, "127.0.0.1", true},
		{"ipv6 loopback with allow private", Guard{AllowPrivate: true}, "::1", true},
		{"private with allow private", Guard{AllowPrivate: true}, "10.1.2.3", true},
		{"unique local with allow private", Guard{AllowPrivate: true}, "fd00::5", true},
		{"cgnat with allow private", Guard{AllowPrivate: true}, "100.64.1.1", true},
		{"link-local stays refused with allow private", Guard{AllowPrivate: true}, "169.254.169.254", false},
		{"aws ipv6 metadata stays refused with allow private", Guard{AllowPrivate: true}, "fd00:ec2::254", false},
		{"documentation stays refused with allow private", Guard{AllowPrivate: true}, "192.0.2.1", false},
		{"allow-listed network", Guard{Allow: internal}, "10.20.30.40", true},
		{"mapped address in allow-listed network", Guard{Allow: internal}, "::ffff:10.20.30.40", true},
		{"private outside the allow-list", Guard{Allow: internal}, "10.21.0.1", false},
		{"allow-listed link-local", Guard{Allow: internal}, "169.254.169.254", true},
		{"unspecified never", Guard{AllowPrivate: true, Allow: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}, "0.0.0.0", false},
		{"multicast never", Guard{AllowPrivate: true, Allow: []netip.Prefix{netip.MustParsePrefix("224.0.0.0/4")}}, "224.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.guard.Check(netip.MustParseAddr(tt.addr))
			if (err == nil) != tt.allow {
				t.Fatalf("Check(%s) = %v; want allowed %v", tt.addr, err, tt.allow)
			}
			if err != nil {
				var be *BlockedError
				if !errors.As(err, &be) {
					t.Errorf("Check(%s) = %T; want *BlockedError", tt.addr, err)
				}
			}
		})
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	tests := []struct {
		addr  string
		guard Guard
		want  string
	}{
		{"127.0.0.1", Guard{}, "refused 127.0.0.1: a loopback address; outbound alerts reach private networks only when the configuration allows private addresses or lists the network"},
		{"10.0.0.1", Guard{}, "refused 10.0.0.1: a private address (RFC 1918); outbound alerts reach private networks only when the configuration allows private addresses or lists the network"},
		{"fd00::1", Guard{}, "refused fd00::1: a private address (RFC 4193); outbound alerts reach private networks only when the configuration allows private addresses or lists the network"},
		{"169.254.169.254", Guard{AllowPrivate: true}, "refused 169.254.169.254: the cloud metadata address; outbound alerts reach it only when the configuration lists its network as allowed"},
		{"0.0.0.0", Guard{}, "refused 0.0.0.0: the unspecified address; it can never receive alerts"},
		{"100.64.0.1", Guard{}, "refused 100.64.0.1: a carrier-grade NAT address (RFC 6598); outbound alerts reach private networks only when the configuration allows private addresses or lists the network"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := tt.guard.Check(netip.MustParseAddr(tt.addr))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Check(%s) = %v; want %q", tt.addr, err, tt.want)
			}
		})
	}
}

func TestValidateURL(t *testing.T) {
	tests := []struct {
		name  string
		guard Guard
		url   string
		want  string // "" for valid, else a part of the message
	}{
		{"slack", Guard{}, "https://hooks.slack.com/services/T000/B000/XXXXXXXX", ""},
		{"http with port", Guard{}, "http://hooks.example.com:8080/evident", ""},
		{"public ip", Guard{}, "https://93.184.215.14/hook", ""},
		{"trailing dot", Guard{}, "https://hooks.example.com./x", ""},
		{"empty", Guard{}, "", "is required"},
		{"too long", Guard{}, "https://hooks.example.com/" + strings.Repeat("a", 2048), "at most 2048"},
		{"space", Guard{}, "https://hooks.example.com/a b", "spaces or control characters"},
		{"newline", Guard{}, "https://hooks.example.com/\nX-Injected: 1", "spaces or control characters"},
		{"ftp", Guard{}, "ftp://files.example.com/hook", "must be an http or https URL"},
		{"file", Guard{}, "file:///etc/passwd", "must be an http or https URL"},
		{"javascript", Guard{}, "javascript:alert(1)", "must be an http or https URL"},
		{"relative", Guard{}, "/services/hook", "must be an http or https URL"},
		{"no host", Guard{}, "https:///services/hook", "absolute URL with a host"},
		{"opaque", Guard{}, "https:hooks.example.com", "absolute URL with a host"},
		{"credentials", Guard{}, "https://user:pass@hooks.example.com/", "user name or password"},
		{"bad port", Guard{}, "https://hooks.example.com:99999/", "port"},
		{"zero port", Guard{}, "https://hooks.example.com:0/", "port"},
		{"unparsable", Guard{}, "https://hooks.example.com:80:80/", "not a valid URL"},
		{"loopback ip", Guard{}, "http://127.0.0.1:8080/hook", "a loopback address"},
		{"ipv6 loopback", Guard{}, "http://[::1]/hook", "a loopback address"},
		{"mapped loopback", Guard{}, "http://[::ffff:127.0.0.1]/hook", "a loopback address"},
		{"localhost", Guard{}, "http://localhost:8080/hook", "a loopback address"},
		{"subdomain of localhost", Guard{}, "http://api.LOCALHOST./hook", "a loopback address"},
		{"private ip", Guard{}, "https://10.0.0.5/hook", "RFC 1918"},
		{"metadata", Guard{}, "http://169.254.169.254/latest/meta-data/", "the cloud metadata address"},
		{"link-local ipv6 with zone", Guard{}, "http://[fe80::1%25eth0]/", "a link-local address"},
		{"unspecified", Guard{}, "http://0.0.0.0:9000/", "the unspecified address"},
		{"short ipv4", Guard{}, "http://127.1/hook", "neither a DNS name nor an IP address"},
		{"decimal ipv4", Guard{}, "http://2130706433/hook", "neither a DNS name nor an IP address"},
		{"hex ipv4", Guard{}, "http://0x7f.0.0.1/hook", "neither a DNS name nor an IP address"},
		{"non-ascii host", Guard{}, "https://bücher.example/hook", "xn--"},
		{"empty label", Guard{}, "https://hooks..example.com/", "empty or over-long label"},
		{"loopback allowed", Guard{AllowPrivate: true}, "http://127.0.0.1:8080/hook", ""},
		{"localhost allowed", Guard{AllowPrivate: true}, "http://localhost:8065/hooks/abc", ""},
		{"allow-listed", Guard{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}}, "https://10.0.0.5/hook", ""},
		{"metadata not allowed by allow private", Guard{AllowPrivate: true}, "http://169.254.169.254/", "the cloud metadata address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.guard.ValidateURL("url", tt.url)
			if tt.want == "" {
				if err != nil {
					t.Errorf("ValidateURL(%q) = %v; want nil", tt.url, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateURL(%q) = nil; want an error saying %q", tt.url, tt.want)
			}
			if domain.FieldOf(err) != "url" || domain.KindOf(err) != domain.KindInvalid {
				t.Errorf("ValidateURL(%q) = %v (field %q, kind %s); want an invalid url", tt.url, err, domain.FieldOf(err), domain.KindOf(err))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ValidateURL(%q) = %q; want it to say %q", tt.url, err, tt.want)
			}
		})
	}
}

func TestValidateURLNeverRepeatsTheURL(t *testing.T) {
	const secret = "B0123456789/abcdefSECRET"
	for _, raw := range []string{
		"https://u:p@hooks.slack.com/services/" + secret,
		"ftp://hooks.slack.com/services/" + secret,
		"https://hooks.slack.com:0/services/" + secret,
		"http://127.0.0.1/services/" + secret,
		"https://hooks.slack.com/services/" + secret + " ",
	} {
		err := (&Guard{}).ValidateURL("slack_url", raw)
		if err == nil {
			t.Fatalf("ValidateURL(%q) = nil; want an error", raw)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("ValidateURL(%q) = %q repeats the URL's secret", raw, err)
		}
		if got := domain.FieldOf(err); got != "slack_url" {
			t.Errorf("ValidateURL(%q) names field %q; want slack_url", raw, got)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/…"},
		{"https://hooks.example.com:8443/in?token=abc", "https://hooks.example.com:8443/…"},
		{"https://user:pass@hooks.example.com/", "https://hooks.example.com"},
		{"https://hooks.example.com", "https://hooks.example.com"},
		{"http://[::1]:8080/x", "http://[::1]:8080/…"},
		{"not a url", "(invalid URL)"},
		{"https://hooks.example.com:80:80/x", "(invalid URL)"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseAllowList(t *testing.T) {
	got, err := ParseAllowList("alerts_allow", "10.20.0.0/16, fd12:3456::/48 192.168.1.10,::ffff:172.16.0.0/108\n::1")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.20.0.0/16"),
		netip.MustParsePrefix("fd12:3456::/48"),
		netip.MustParsePrefix("192.168.1.10/32"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("::1/128"),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("ParseAllowList (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"10.0.0.0/33", "intranet", "10.0.0.1%eth0", "10.0.0/8"} {
		_, err := ParseAllowList("alerts_allow", bad)
		if err == nil || domain.FieldOf(err) != "alerts_allow" || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseAllowList(%q) = %v; want an error naming alerts_allow and the entry", bad, err)
		}
	}
	if got, err := ParseAllowList("alerts_allow", " "); err != nil || len(got) != 0 {
		t.Errorf("ParseAllowList(blank) = %v, %v; want nothing", got, err)
	}
}

// get fetches url with the guard's client and returns the error, the body on success.
func get(tb testing.TB, g *Guard, url string) (string, error) {
	tb.Helper()
	resp, err := g.Client().Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestClientRefusesLoopbackByDefault(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the server was reached: %s %s", r.Method, r.URL)
	}))
	defer srv.Close()
	_, err := get(t, &Guard{}, srv.URL)
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("Get(%s) = %v; want a *BlockedError", srv.URL, err)
	}
	if be.Class != ClassLoopback || !strings.Contains(err.Error(), "refused 127.0.0.1: a loopback address") {
		t.Errorf("Get(%s) = %q; want it refused as a loopback address", srv.URL, err)
	}
}

func TestClientChecksResolvedAddress(t *testing.T) {
	// "localhost" is a name: only the address it resolves to tells that it is loopback.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the server was reached: %s %s", r.Method, r.URL)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	url := "http://localhost:" + port + "/"
	_, err := get(t, &Guard{}, url)
	var be *BlockedError
	if !errors.As(err, &be) || be.Class != ClassLoopback {
		t.Fatalf("Get(%s) = %v; want refused as loopback", url, err)
	}
}

func TestClientAllowsWhatTheConfigurationAllows(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	defer srv.Close()
	for name, g := range map[string]*Guard{
		"allow private": {AllowPrivate: true},
		"allow-list":    {Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	} {
		t.Run(name, func(t *testing.T) {
			body, err := get(t, g, srv.URL)
			if err != nil || body != "hello" {
				t.Errorf("Get(%s) = %q, %v; want hello", srv.URL, body, err)
			}
		})
	}
}

func TestClientRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "arrived") })
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hop/"+r.PathValue("n")+"x", http.StatusFound)
	})
	var target string
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// Only the receiver's own address is permitted.
	own := &Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

	tests := []struct {
		name   string
		guard  *Guard
		target string
		want   string // "" to arrive
	}{
		{"same server", own, "/ok", ""},
		{"to metadata", own, "http://169.254.169.254/latest/meta-data/iam", "refused redirect to http://169.254.169.254/…: refused 169.254.169.254: the cloud metadata address"},
		{"to private", own, "http://10.0.0.8:" + port + "/ok", "refused 10.0.0.8: a private address (RFC 1918)"},
		{"to other loopback", own, "http://127.0.0.2:" + port + "/ok", "refused 127.0.0.2: a loopback address"},
		{"to ipv6 loopback", own, "http://[::1]:" + port + "/ok", "refused ::1: a loopback address"},
		{"to another scheme", own, "ftp://files.example.com/x", "only http and https are followed"},
		{"too many", own, "/hop/x", "stopped after 3 redirects"},
		{"none followed", &Guard{Allow: own.Allow, MaxRedirects: -1}, "/ok", "redirects are not followed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target = tt.target
			body, err := get(t, tt.guard, srv.URL+"/to")
			if tt.want == "" {
				if err != nil || body != "arrived" {
					t.Errorf("Get = %q, %v; want to arrive", body, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Get = %v; want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestClientDoesNotGoFromHTTPSToHTTP(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the plain http server was reached")
	}))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/x", http.StatusTemporaryRedirect)
	}))
	defer tlsSrv.Close()
	client := (&Guard{AllowPrivate: true}).Client()
	// Trust the test server's certificate, keeping the guarded dialer.
	client.Transport.(*cappedTransport).next.(*http.Transport).TLSClientConfig.RootCAs = tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	_, err := client.Get(tlsSrv.URL)
	if err == nil || !strings.Contains(err.Error(), "it would go from https to plain http") {
		t.Errorf("Get = %v; want the downgrade refused", err)
	}
}

func TestClientCapsTheResponse(t *testing.T) {
	big := strings.Repeat("x", 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) }))
	defer srv.Close()
	tests := []struct {
		limit int64
		err   error
	}{
		{999, ErrResponseTooLarge},
		{1000, nil},
		{1001, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			body, err := get(t, &Guard{AllowPrivate: true, MaxResponseBytes: tt.limit}, srv.URL)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Get with limit %d: %v; want %v", tt.limit, err, tt.err)
			}
			if err == nil && body != big {
				t.Errorf("Get with limit %d read %d bytes; want %d", tt.limit, len(body), len(big))
			}
		})
	}
}

func TestClientHasTimeouts(t *testing.T) {
	c := (&Guard{}).Client()
	if c.Timeout != DefaultTimeout {
		t.Errorf("Client().Timeout = %s; want %s", c.Timeout, DefaultTimeout)
	}
	tr := c.Transport.(*cappedTransport).next.(*http.Transport)
	if tr.Proxy != nil {
		t.Errorf("Client() uses a proxy, which would connect where the guard cannot see")
	}
	if tr.TLSHandshakeTimeout == 0 || tr.ResponseHeaderTimeout == 0 || tr.IdleConnTimeout == 0 {
		t.Errorf("Client() transport timeouts: handshake %s, response header %s, idle %s; want all set",
			tr.TLSHandshakeTimeout, tr.ResponseHeaderTimeout, tr.IdleConnTimeout)
	}
	// A request that is cancelled does not wait for the timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://hooks.example.com/", nil)
	if _, err := c.Do(req); !errors.Is(err, context.Canceled) {
		t.Errorf("Do(cancelled) = %v; want context.Canceled", err)
	}
}
