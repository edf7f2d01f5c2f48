package alert

import (
	"context"
	"io"
	"log"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/evidenthq/evident/internal/notify"
)

// mailServer is an SMTP server on 127.0.0.1 that keeps the messages it accepts.
type mailServer struct {
	Port     int
	mu       sync.Mutex
	messages []sentMail
	// refuse makes RCPT TO fail with 550 for these addresses.
	refuse map[string]bool
}

func startMailServer(tb testing.TB, refuse ...string) *mailServer {
	tb.Helper()
	ms := &mailServer{refuse: map[string]bool{}}
	for _, r := range refuse {
		ms.refuse[r] = true
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &mailSession{srv: ms}, nil
	}))
	srv.Domain = "mail.acme.test"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ms.Port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return ms
}

func (ms *mailServer) Messages() []sentMail {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]sentMail(nil), ms.messages...)
}

type mailSession struct {
	srv *mailServer
	msg sentMail
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.msg = sentMail{From: from}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.refuse[to] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Msg = b
	s.srv.mu.Lock()
	s.srv.messages = append(s.srv.messages, s.msg)
	s.srv.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.msg = sentMail{} }
func (s *mailSession) Logout() error { return nil }

// The SMTP sender of package notify is an alert Sender.
var _ Sender = (*notify.SMTP)(nil)

func TestEmailOverSMTP(t *testing.T) {
	ms := startMailServer(t)
	email := &Email{
		Sender: &notify.SMTP{Host: "127.0.0.1", Port: ms.Port, Security: notify.NoTLS, Timeout: 10 * time.Second},
		From:   mail.Address{Name: "Evident", Address: "evident@acme.test"},
	}
	d, _ := testDispatcher(t, email, nil)
	res := d.Deliver(context.Background(), failingAlert(), []Target{{Name: "owners", Kind: KindEmail}})
	if !res[0].Delivered() {
		t.Fatalf("Deliver = %+v; want delivered", res[0])
	}
	msgs := ms.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the server accepted %d messages; want 1", len(msgs))
	}
	if msgs[0].From != "evident@acme.test" || strings.Join(msgs[0].To, ",") != "alice@acme.test,bob@acme.test" {
		t.Errorf("envelope from %q to %v; want evident@acme.test to both owners", msgs[0].From, msgs[0].To)
	}
	p := parseMail(t, msgs[0].Msg)
	if want := "[Evident] Failing (high): IAM users have MFA, 12 resources in Acme Corp"; p.Subject != want {
		t.Errorf("Subject = %q; want %q", p.Subject, want)
	}
	if !strings.Contains(p.Text, "aws iam enable-mfa-device --user-name NAME") || !strings.Contains(p.HTML, "https://evident.acme.test/tests/aws-iam-user-mfa") {
		t.Errorf("the message lacks the fix or the link:\n%s\n%s", p.Text, p.HTML)
	}
}

func TestEmailOverSMTPRefusedMailbox(t *testing.T) {
	ms := startMailServer(t, "gone@acme.test")
	email := &Email{
		Sender: &notify.SMTP{Host: "127.0.0.1", Port: ms.Port, Security: notify.NoTLS, Timeout: 10 * time.Second},
		From:   mail.Address{Address: "evident@acme.test"},
	}
	d, s := testDispatcher(t, email, nil)
	res := d.Deliver(context.Background(), failingAlert(), []Target{{Name: "team", Kind: KindEmail, To: []string{"gone@acme.test"}}})
	if res[0].Delivered() || !res[0].Permanent || res[0].Attempts != 1 || len(s.Waits()) != 0 {
		t.Errorf("Deliver to a refused mailbox = %+v; want a permanent failure at the first attempt", res[0])
	}
	if !strings.Contains(res[0].Err.Error(), "550") {
		t.Errorf("error = %v; want the server's 550", res[0].Err)
	}
	if n := len(ms.Messages()); n != 0 {
		t.Errorf("the server accepted %d messages", n)
	}
}
