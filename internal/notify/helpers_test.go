package notify

import (
	"github.com/evidenthq/evident/internal/notify/notifytest"
)

// client returns a configuration for sending through the test server.
func client(srv *notifytest.Server, user, password string) *SMTP {
	s := &SMTP{Host: srv.Host, Port: srv.Port, Username: user, Password: password, Security: NoTLS}
	if srv.Pool != nil {
		s.Security = StartTLS
		s.TLSConfig = srv.ClientTLS()
	}
	return s
}
