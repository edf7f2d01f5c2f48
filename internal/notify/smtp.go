package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Security is how the connection to the mail server is protected.
type Security string

// The connection security modes.
const (
	// StartTLS connects in plain text and upgrades with STARTTLS before anything else is
	// said; a server that does not offer STARTTLS is refused. The default for smtp://.
	StartTLS Security = "starttls"
	// ImplicitTLS speaks TLS from the first byte, as on port 465: smtps://.
	ImplicitTLS Security = "tls"
	// NoTLS sends in plain text, for a relay on the same host or a trusted network:
	// smtp://…?tls=none. Credentials are then sent only to a loopback address.
	NoTLS Security = "none"
)

// DefaultSMTPTimeout bounds one message's delivery to the mail server: connecting,
// the conversation and the upload.
const DefaultSMTPTimeout = 30 * time.Second

// SMTP is an outgoing mail server. Its String form never shows the password.
type SMTP struct {
	// Host is the server's name, checked against its TLS certificate, and Port its port.
	Host string
	Port int
	// Username and Password, when Username is set, authenticate with AUTH PLAIN, which
	// is only ever sent over TLS or to a loopback address.
	Username string
	Password string
	Security Security
	// TLSConfig is used for STARTTLS and implicit TLS; nil trusts the system's roots for
	// Host. Tests set it to trust their own server.
	TLSConfig *tls.Config
	// HelloName is the name given in EHLO; "localhost" when empty.
	HelloName string
	// Timeout bounds one delivery; DefaultSMTPTimeout when zero.
	Timeout time.Duration
}

// ParseSMTPURL reads an outgoing mail server from a URL:
//
//   - smtp://user:password@host:port: STARTTLS, required (port 587 by default);
//   - smtps://user:password@host:port: TLS from the start (port 465 by default);
//   - smtp://host:25?tls=none: no TLS, for a relay on the same host or a trusted network.
//
// The user information is optional; a user name or password with special characters is
// percent-encoded. Errors never repeat the password.
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included; keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("smtp url: %w", err)
	}
	shown := redactURL(u)
	s := &SMTP{Host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		s.Security, s.Port = StartTLS, 587
	case "smtps":
		s.Security, s.Port = ImplicitTLS, 465
	default:
		return nil, fmt.Errorf("smtp url %s: scheme must be smtp or smtps", shown)
	}
	if s.Host == "" {
		return nil, fmt.Errorf("smtp url %s: no host", shown)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("smtp url %s: port must be 1 to 65535", shown)
		}
		s.Port = n
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("smtp url %s: takes no path", shown)
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" {
			return nil, fmt.Errorf("smtp url %s: a password needs a user name", shown)
		}
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("smtp url %s: query: %w", shown, err)
	}
	for name, values := range query {
		if name != "tls" {
			return nil, fmt.Errorf("smtp url %s: unknown parameter %q (want tls)", shown, name)
		}
		if len(values) != 1 {
			return nil, fmt.Errorf("smtp url %s: parameter tls given %d times", shown, len(values))
		}
		switch v := values[0]; {
		case u.Scheme == "smtps":
			return nil, fmt.Errorf("smtp url %s: smtps always uses TLS; drop the tls parameter", shown)
		case v == "starttls":
			s.Security = StartTLS
		case v == "none":
			s.Security = NoTLS
		default:
			return nil, fmt.Errorf("smtp url %s: tls must be starttls or none", shown)
		}
	}
	return s, nil
}

// String describes the server for logs: its address, security and user, never the
// password.
func (s *SMTP) String() string {
	who := ""
	if s.Username != "" {
		who = s.Username + "@"
	}
	return fmt.Sprintf("smtp %s%s (%s)", who, s.addr(), s.Security)
}

func (s *SMTP) addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// redactURL returns u for an error message, without its password.
func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		if _, ok := c.User.Password(); ok {
			c.User = url.UserPassword(c.User.Username(), "xxxxx")
		}
	}
	return c.String()
}

// Send delivers one message, already encoded (see Message.Bytes), from the envelope
// sender to the recipients. It returns once the server has accepted the message, or the
// context or the timeout has ended.
func (s *SMTP) Send(ctx context.Context, from string, to []string, msg []byte) error {
	if len(to) == 0 {
		return errors.New("send mail: no recipients")
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.send(ctx, from, to, msg); err != nil {
		return fmt.Errorf("send mail through %s: %w", s.addr(), err)
	}
	return nil
}

func (s *SMTP) send(ctx context.Context, from string, to []string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr())
	if err != nil {
		return err
	}
	// The deadline covers the whole conversation, and closing the connection when the
	// context ends interrupts a server that stops answering.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if s.Security == ImplicitTLS {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("TLS: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	hello := s.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return err
	}
	if s.Security == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS; use smtps:// for a server that speaks TLS from the start, or ?tls=none for a relay on a trusted network")
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if s.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the server does not offer authentication; remove the user name from the URL")
		}
		// PlainAuth refuses to send the password in the clear to anything but a loopback
		// address.
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return fmt.Errorf("authenticate as %s: %w", s.Username, err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("sender %s: %w", from, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("recipient %s: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// tlsConfig is the TLS configuration for the server: the configured one, with the server
// name set.
func (s *SMTP) tlsConfig() *tls.Config {
	var cfg *tls.Config
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.Host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// validHeaderText reports whether s can go in a header as is: no line breaks, which
// would let text start headers of its own.
func validHeaderText(s string) bool { return !strings.ContainsAny(s, "\r\n") }
