package alert

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// Class is the kind of an IP address, as far as outbound requests are concerned.
type Class string

// The address classes. Every class but ClassPublic names a special-purpose range of the
// IANA IPv4 and IPv6 special-purpose address registries (RFC 6890 and its updates).
const (
	// ClassPublic is an ordinary, globally reachable unicast address.
	ClassPublic Class = "public"
	// ClassUnspecified is 0.0.0.0 or ::, which reaches the local host when dialled.
	ClassUnspecified Class = "unspecified"
	// ClassLoopback is 127.0.0.0/8 or ::1.
	ClassLoopback Class = "loopback"
	// ClassPrivate is a private network: 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16
	// (RFC 1918), fc00::/7 (RFC 4193) and the deprecated site-local fec0::/10.
	ClassPrivate Class = "private"
	// ClassShared is the carrier-grade NAT space 100.64.0.0/10 (RFC 6598), which some
	// overlay networks use for their hosts.
	ClassShared Class = "shared"
	// ClassLinkLocal is 169.254.0.0/16 or fe80::/10, where cloud metadata services such
	// as 169.254.169.254 answer.
	ClassLinkLocal Class = "link-local"
	// ClassMulticast is 224.0.0.0/4 or ff00::/8.
	ClassMulticast Class = "multicast"
	// ClassDocumentation is an example range: 192.0.2.0/24, 198.51.100.0/24,
	// 203.0.113.0/24, 2001:db8::/32 and 3fff::/20.
	ClassDocumentation Class = "documentation"
	// ClassReserved is any other special-purpose range: "this network" 0.0.0.0/8,
	// protocol assignments, benchmarking, the reserved 240.0.0.0/4 with the broadcast
	// address, IPv6 outside global unicast 2000::/3, Teredo, discard-only and the like.
	ClassReserved Class = "reserved"
)

type classRange struct {
	prefix netip.Prefix
	class  Class
}

// specialRanges are checked in order; the first that holds the address names its class.
var specialRanges = func() []classRange {
	rows := []struct {
		cidr  string
		class Class
	}{
		{"0.0.0.0/32", ClassUnspecified},
		{"0.0.0.0/8", ClassReserved},
		{"10.0.0.0/8", ClassPrivate},
		{"100.64.0.0/10", ClassShared},
		{"127.0.0.0/8", ClassLoopback},
		{"169.254.0.0/16", ClassLinkLocal},
		{"172.16.0.0/12", ClassPrivate},
		{"192.0.0.0/24", ClassReserved},
		{"192.0.2.0/24", ClassDocumentation},
		{"192.88.99.0/24", ClassReserved},
		{"192.168.0.0/16", ClassPrivate},
		{"198.18.0.0/15", ClassReserved},
		{"198.51.100.0/24", ClassDocumentation},
		{"203.0.113.0/24", ClassDocumentation},
		{"224.0.0.0/4", ClassMulticast},
		{"240.0.0.0/4", ClassReserved},

		{"::/128", ClassUnspecified},
		{"::1/128", ClassLoopback},
		{"64:ff9b:1::/48", ClassReserved},
		{"100::/64", ClassReserved},
		{"2001::/23", ClassReserved},
		{"2001:db8::/32", ClassDocumentation},
		{"3fff::/20", ClassDocumentation},
		{"5f00::/16", ClassReserved},
		{"fc00::/7", ClassPrivate},
		{"fe80::/10", ClassLinkLocal},
		{"fec0::/10", ClassPrivate},
		{"ff00::/8", ClassMulticast},
	}
	out := make([]classRange, len(rows))
	for i, r := range rows {
		out[i] = classRange{netip.MustParsePrefix(r.cidr), r.class}
	}
	return out
}()

var (
	nat64Prefix     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")
	globalUnicastV6 = netip.MustParsePrefix("2000::/3")
	metadataV4      = netip.MustParseAddr("169.254.169.254")
	metadataV6      = netip.MustParseAddr("fd00:ec2::254")
	loopbackV4      = netip.MustParseAddr("127.0.0.1")
	errNotIP        = errors.New("not an IP address")
	// errRedirect marks a redirect the client refused to follow.
	errRedirect = errors.New("refused redirect")
)

// Classify returns the class of an address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
// is the IPv4 address it maps, and the IPv6 forms that embed an IPv4 address and are
// routed to it (NAT64 64:ff9b::/96 and 6to4 2002::/16) have the class of that address.
// The invalid zero Addr is ClassReserved.
func Classify(ip netip.Addr) Class {
	if !ip.IsValid() {
		return ClassReserved
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64Prefix.Contains(ip):
			return Classify(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFourPrefix.Contains(ip):
			return Classify(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, r := range specialRanges {
		if r.prefix.Contains(ip) {
			return r.class
		}
	}
	if ip.Is6() && !globalUnicastV6.Contains(ip) {
		return ClassReserved
	}
	return ClassPublic
}

// Defaults of Guard.
const (
	// DefaultTimeout bounds one request: connecting, sending, and reading the answer.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxRedirects is how many redirects one request follows.
	DefaultMaxRedirects = 3
	// DefaultMaxResponseBytes is how much of an answer's body is read.
	DefaultMaxResponseBytes = 64 << 10
)

// Guard is the policy for outbound requests: alerts go to public addresses only, unless
// the configuration allows more. The policy is enforced on the address actually being
// connected to, after DNS resolution, so that a name resolving (or later re-resolving) to
// an internal address is refused too. The zero Guard refuses every special-purpose
// address and uses the defaults above.
type Guard struct {
	// AllowPrivate permits loopback, private (RFC 1918, RFC 4193) and carrier-grade NAT
	// addresses, for self-hosted chat servers and receivers on internal networks.
	// Link-local addresses, where cloud metadata services answer, stay refused unless a
	// network in Allow holds them.
	AllowPrivate bool
	// Allow lists networks that are permitted whatever their class, except the
	// unspecified and multicast addresses, which are never alert destinations.
	Allow []netip.Prefix
	// Timeout bounds one request; DefaultTimeout when zero.
	Timeout time.Duration
	// MaxRedirects is how many redirects a request follows; DefaultMaxRedirects when zero
	// and none when negative.
	MaxRedirects int
	// MaxResponseBytes is how much of an answer's body may be read; reading more fails
	// with ErrResponseTooLarge. DefaultMaxResponseBytes when zero.
	MaxResponseBytes int64
}

// BlockedError is the refusal of an address the Guard does not permit.
type BlockedError struct {
	Addr  netip.Addr
	Class Class
	// Private reports whether Guard.AllowPrivate would have permitted the address.
	Private bool
}

func (e *BlockedError) Error() string {
	var what string
	switch {
	case e.Addr == metadataV4 || e.Addr == metadataV6:
		what = "the cloud metadata address"
	case e.Class == ClassLoopback:
		what = "a loopback address"
	case e.Class == ClassPrivate && e.Addr.Is4():
		what = "a private address (RFC 1918)"
	case e.Class == ClassPrivate:
		what = "a private address (RFC 4193)"
	case e.Class == ClassShared:
		what = "a carrier-grade NAT address (RFC 6598)"
	case e.Class == ClassLinkLocal:
		what = "a link-local address"
	case e.Class == ClassMulticast:
		what = "a multicast address"
	case e.Class == ClassUnspecified:
		what = "the unspecified address"
	case e.Class == ClassDocumentation:
		what = "a documentation address"
	default:
		what = "a reserved special-purpose address"
	}
	var hint string
	switch {
	case e.Class == ClassUnspecified || e.Class == ClassMulticast:
		hint = "it can never receive alerts"
	case e.Private:
		hint = "outbound alerts reach private networks only when the configuration allows private addresses or lists the network"
	default:
		hint = "outbound alerts reach it only when the configuration lists its network as allowed"
	}
	return fmt.Sprintf("refused %s: %s; %s", e.Addr, what, hint)
}

// Check returns nil when the Guard permits connecting to ip, and a *BlockedError when it
// does not.
func (g *Guard) Check(ip netip.Addr) error {
	ip = ip.WithZone("").Unmap()
	class := Classify(ip)
	// The metadata service of AWS answers at a unique local IPv6 address; like its IPv4
	// twin it needs an explicit allow-list entry.
	private := (class == ClassLoopback || class == ClassPrivate || class == ClassShared) && ip != metadataV6
	switch {
	case class == ClassPublic:
		return nil
	case class == ClassUnspecified || class == ClassMulticast:
		return &BlockedError{Addr: ip, Class: class}
	case g.AllowPrivate && private:
		return nil
	}
	for _, p := range g.Allow {
		if p.Contains(ip) {
			return nil
		}
	}
	return &BlockedError{Addr: ip, Class: class, Private: private}
}

// control is the dialer's last word before connecting: it sees the resolved address.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("refused to connect over %s", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused to connect to %s: %w", address, errNotIP)
	}
	return g.Check(ap.Addr())
}

func (g *Guard) timeout() time.Duration {
	if g.Timeout > 0 {
		return g.Timeout
	}
	return DefaultTimeout
}

// Client returns an HTTP client that enforces the Guard: its dialer refuses addresses the
// Guard does not permit, it follows a few redirects to http and https addresses only
// (never from https down to http), it bounds every request with the timeout and every
// answer's body with the read limit, and it uses no proxy, which would connect on its
// behalf where the Guard cannot see. Build one and share it: it keeps connections alive.
func (g *Guard) Client() *http.Client {
	guard := *g
	guard.Allow = append([]netip.Prefix(nil), g.Allow...)
	timeout := guard.timeout()
	dialer := &net.Dialer{
		Timeout:   min(timeout, 10*time.Second),
		KeepAlive: 30 * time.Second,
		Control:   guard.control,
	}
	limit := guard.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    min(timeout, 10*time.Second),
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           16,
		MaxIdleConnsPerHost:    4,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     &cappedTransport{next: transport, limit: limit},
		Timeout:       timeout,
		CheckRedirect: guard.checkRedirect,
	}
}

// checkRedirect decides whether to follow a redirect. The dialer checks the address
// connected to in any case; this refuses early, with a clearer error, what it can tell
// from the URL alone.
func (g *Guard) checkRedirect(req *http.Request, via []*http.Request) error {
	limit := g.MaxRedirects
	if limit == 0 {
		limit = DefaultMaxRedirects
	}
	shown := redact(req.URL)
	switch {
	case limit < 0:
		return fmt.Errorf("%w to %s: redirects are not followed", errRedirect, shown)
	case len(via) > limit:
		return fmt.Errorf("%w to %s: stopped after %d redirects", errRedirect, shown, limit)
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return fmt.Errorf("%w to %s: only http and https are followed", errRedirect, shown)
	case req.URL.Scheme == "http" && via[len(via)-1].URL.Scheme == "https":
		return fmt.Errorf("%w to %s: it would go from https to plain http", errRedirect, shown)
	}
	if ip, ok := hostIP(req.URL.Hostname()); ok {
		if err := g.Check(ip); err != nil {
			return fmt.Errorf("%w to %s: %w", errRedirect, shown, err)
		}
	}
	return nil
}

// hostIP returns the address a host stands for without DNS: an IP literal, or the
// loopback address for localhost and its subdomains (RFC 6761).
func hostIP(host string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, true
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return loopbackV4, true
	}
	return netip.Addr{}, false
}

// ErrResponseTooLarge is the error of reading more of an answer than the Guard allows.
var ErrResponseTooLarge = errors.New("the response is larger than the read limit")

// cappedTransport bounds how much of each answer's body can be read.
type cappedTransport struct {
	next  http.RoundTripper
	limit int64
}

func (t *cappedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{body: resp.Body, left: t.limit}
	return resp, nil
}

// cappedBody reads at most left bytes of body, then fails if there is more.
type cappedBody struct {
	body io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := b.body.Read(one[:])
		if n > 0 {
			return 0, ErrResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.body.Close() }

// maxURLLength is the longest destination URL accepted.
const maxURLLength = 2048

// ValidateURL checks a destination URL before it is saved: an absolute http or https URL
// with a host name or an IP address the Guard permits, no user name or password, and a
// valid port. Host names are not resolved here; the Guard checks the addresses they
// resolve to on every connection. Errors name field and never repeat the URL, which may
// hold a secret (a Slack webhook URL is one).
func (g *Guard) ValidateURL(field, raw string) error {
	switch {
	case raw == "":
		return domain.Invalid(field, "is required")
	case len(raw) > maxURLLength:
		return domain.Invalid(field, "must be at most %d characters", maxURLLength)
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return domain.Invalid(field, "must not contain spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return domain.Invalid(field, "is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return domain.Invalid(field, "must be an http or https URL, such as https://hooks.example.com/evident")
	case u.Opaque != "" || u.Host == "":
		return domain.Invalid(field, "must be an absolute URL with a host, such as https://hooks.example.com/evident")
	case u.User != nil:
		return domain.Invalid(field, "must not contain a user name or password")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return domain.Invalid(field, "has a port that is not a number from 1 to 65535")
		}
	}
	host := u.Hostname()
	if ip, ok := hostIP(host); ok {
		if err := g.Check(ip); err != nil {
			return domain.Invalid(field, "%s", err.Error())
		}
		return nil
	}
	if err := checkHostName(host); err != nil {
		return domain.Invalid(field, "%s", err.Error())
	}
	return nil
}

// checkHostName accepts DNS names in their ASCII form.
func checkHostName(host string) error {
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return errors.New("has no valid host name")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("has a host name with an empty or over-long label")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= 0x80:
				return errors.New("has a host name that is not ASCII; write it in its xn-- form")
			default:
				return fmt.Errorf("has a host name with the character %q", c)
			}
		}
	}
	// A name whose last label is a number is an IP address in a form some resolvers
	// read (127.1, 0x7f.1, 2130706433), not a DNS name.
	last := strings.ToLower(labels[len(labels)-1])
	if strings.HasPrefix(last, "0x") || strings.Trim(last, "0123456789") == "" {
		return errors.New("has a host that is neither a DNS name nor an IP address in standard form")
	}
	return nil
}

// RedactURL returns a URL fit for logs, errors and pages: its scheme, host and port, with
// any path or query replaced by "…", since Slack and other webhook URLs carry their secret
// there. A URL that does not parse is shown as "(invalid URL)".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return redact(u)
}

func redact(u *url.URL) string {
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Opaque != "" {
		s += "/…"
	}
	return s
}

// ParseAllowList reads the networks of Guard.Allow from configuration: CIDRs or single
// addresses, separated by commas or spaces, such as "10.20.0.0/16, fd12:3456::/48,
// 192.168.1.10". Errors name field and the entry at fault.
func ParseAllowList(field, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, entry := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		var p netip.Prefix
		if strings.Contains(entry, "/") {
			pp, err := netip.ParsePrefix(entry)
			if err != nil {
				return nil, domain.Invalid(field, "%q is not a CIDR such as 10.0.0.0/8", entry)
			}
			p = pp.Masked()
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
		} else {
			ip, err := netip.ParseAddr(entry)
			if err != nil || ip.Zone() != "" {
				return nil, domain.Invalid(field, "%q is not an IP address or a CIDR such as 10.0.0.0/8", entry)
			}
			ip = ip.Unmap()
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
		out = append(out, p)
	}
	return out, nil
}
