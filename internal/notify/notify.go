// Package notify sends Evident's email: the daily digest that tells each owner of controls
// which of them need evidence, for which period and by when.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// Store is what the Sender reads and records. *store.Store satisfies it.
type Store interface {
	Reader
	Organizations(ctx context.Context) ([]domain.Organization, error)
	// ClaimDigest claims a person's digest of an organization for the UTC date of day
	// and reports whether this call made the claim, so that of several replicas exactly
	// one sends it.
	ClaimDigest(ctx context.Context, orgID, userID int64, day time.Time) (bool, error)
	// ReleaseDigest withdraws a claim whose digest could not be sent.
	ReleaseDigest(ctx context.Context, orgID, userID int64, day time.Time) error
}

// Mailer delivers an encoded message. *SMTP is the Mailer.
type Mailer interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// DefaultHour is the hour of the day, UTC, from which the day's digests go out.
const DefaultHour = 7

// Sender sends each owner of controls that need evidence one digest a day per
// organization. Several replicas may run one each: a digest is claimed in the store
// before it is sent, and released again if sending fails, so it goes out once.
type Sender struct {
	Store Store
	// Mailer delivers the digests; nil turns digests off.
	Mailer Mailer
	// From is the digests' sender.
	From mail.Address
	// BaseURL is the address people reach Evident at, for links; "" leaves them out.
	BaseURL string
	// Hour is the hour of the day, UTC (0 to 23), from which the day's digests are sent.
	Hour int
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Enabled reports whether the Sender has a mail server to send through.
func (s *Sender) Enabled() bool { return s.Mailer != nil }

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sender) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// SendDue sends the digests of the day that nobody has sent yet, once the day's hour has
// come, and returns how many it sent. With no Mailer it does nothing, and claims nothing,
// so that a replica without mail configured never keeps one with mail from sending. A
// failure for one person does not stop the others: their errors are joined.
func (s *Sender) SendDue(ctx context.Context) (int, error) {
	if !s.Enabled() {
		return 0, nil
	}
	now := s.now().UTC()
	if now.Hour() < s.Hour {
		return 0, nil
	}
	orgs, err := s.Store.Organizations(ctx)
	if err != nil {
		return 0, fmt.Errorf("digests: %w", err)
	}
	sent := 0
	var errs []error
	for _, org := range orgs {
		digests, err := Build(ctx, s.Store, org, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := range digests {
			ok, err := s.send(ctx, &digests[i], now)
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				sent++
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	return sent, errors.Join(errs...)
}

// send claims and sends one digest, and reports whether this call sent it.
func (s *Sender) send(ctx context.Context, d *Digest, now time.Time) (bool, error) {
	claimed, err := s.Store.ClaimDigest(ctx, d.Org.ID, d.Owner.ID, now)
	if err != nil || !claimed {
		return false, err
	}
	err = s.deliver(ctx, d, now)
	if err == nil {
		s.logger().Info("evidence digest sent", "org", d.Org.Slug, "to", d.Owner.Email, "controls", len(d.Items))
		return true, nil
	}
	// Let a later attempt, here or on another replica, send it.
	if rerr := s.Store.ReleaseDigest(context.WithoutCancel(ctx), d.Org.ID, d.Owner.ID, now); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return false, fmt.Errorf("digest of %s for %s: %w", d.Org.Slug, d.Owner.Email, err)
}

func (s *Sender) deliver(ctx context.Context, d *Digest, now time.Time) error {
	msg, err := d.Message(s.From, s.BaseURL, now)
	if err != nil {
		return err
	}
	b, err := msg.Bytes()
	if err != nil {
		return err
	}
	return s.Mailer.Send(ctx, s.From.Address, []string{d.Owner.Email}, b)
}

// Run sends due digests at start and then at every interval until ctx is done. Failures
// are logged, and the digests they concern are tried again at the next interval.
func (s *Sender) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.SendDue(ctx); err != nil && ctx.Err() == nil {
			s.logger().Warn("sending evidence digests failed; they will be tried again", "err", err, "retry_in", every)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
