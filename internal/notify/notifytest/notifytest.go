// Package notifytest runs an SMTP server on 127.0.0.1 for tests: it speaks real SMTP,
// offers STARTTLS and AUTH PLAIN when asked, and keeps every message it accepts.
package notifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
	// TLS reports that the message came over TLS; User is who authenticated, if anyone.
	TLS  bool
	User string
}

// Server is an SMTP server on 127.0.0.1 that keeps what it receives.
type Server struct {
	Host string
	Port int
	// Pool trusts the server's certificate, when it has one.
	Pool *x509.CertPool

	mu       sync.Mutex
	messages []Message
	// reject makes RCPT TO fail for these addresses.
	reject map[string]bool
}

// Options say how a Server behaves.
type Options struct {
	TLS      bool   // offer STARTTLS with a certificate for 127.0.0.1
	User     string // require AUTH PLAIN with this user and Password
	Password string
}

// Start starts a server speaking real SMTP on 127.0.0.1:0, closed when the test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	ts := &Server{reject: map[string]bool{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &testSession{srv: ts, conn: c, opts: opts}, nil
	}))
	srv.Domain = "mail.test"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 4 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		cert, pool := selfSigned(tb)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		ts.Pool = pool
	} else {
		// The password of a test is no secret; go-smtp would refuse it in the clear.
		srv.AllowInsecureAuth = true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ts.Host, ts.Port = "127.0.0.1", addr.Port
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return ts
}

// Messages returns what the server has Message so far.
func (ts *Server) Messages() []Message {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]Message(nil), ts.messages...)
}

// Reject makes the server refuse mail to the address, or accept it again.
func (ts *Server) Reject(addr string, on bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.reject[addr] = on
}

// Addr is the server's address, host:port.
func (ts *Server) Addr() string { return net.JoinHostPort(ts.Host, strconv.Itoa(ts.Port)) }

// URL is the server's address as Evident's --smtp-url takes it, with the user and
// password given: STARTTLS when the server offers it, otherwise tls=none.
func (ts *Server) URL(user, password string) string {
	u := url.URL{Scheme: "smtp", Host: ts.Addr()}
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	if ts.Pool == nil {
		u.RawQuery = "tls=none"
	}
	return u.String()
}

// ClientTLS is a TLS configuration that trusts the server's certificate.
func (ts *Server) ClientTLS() *tls.Config { return &tls.Config{RootCAs: ts.Pool} }

type testSession struct {
	srv  *Server
	conn *smtp.Conn
	opts Options
	user string
	msg  Message
}

func (s *testSession) AuthMechanisms() []string {
	if s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.opts.User || password != s.opts.Password {
			return errors.New("invalid credentials")
		}
		s.user = username
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.opts.User != "" && s.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.msg = Message{From: from}
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	rejected := s.srv.reject[to]
	s.srv.mu.Unlock()
	if rejected {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = b
	_, s.msg.TLS = s.conn.TLSConnectionState()
	s.msg.User = s.user
	s.srv.mu.Lock()
	s.srv.messages = append(s.srv.messages, s.msg)
	s.srv.mu.Unlock()
	return nil
}

func (s *testSession) Reset()        { s.msg = Message{} }
func (s *testSession) Logout() error { return nil }

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mail.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}
