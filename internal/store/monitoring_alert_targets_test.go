package store_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// sealedURL is a target's sealed settings as the notifier makes them; the store never
// opens them.
func sealedURL(tag string) *domain.SealedSecret {
	return &domain.SealedSecret{KeyID: "k1", Nonce: bytes.Repeat([]byte{2}, 12), Ciphertext: []byte("sealed-url:" + tag)}
}

func TestAlertTargets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		clk := withClock(s)
		org := newOrg(t, s, "acme")
		other := newOrg(t, s, "other")

		mail := &domain.AlertTarget{OrgID: org.ID, Kind: domain.TargetEmail, Name: " Security ",
			Recipients: []string{"sec@acme.example", " ops@acme.example", "SEC@acme.example"}, OnFailing: true, Enabled: true}
		must(t, "CreateAlertTarget(email)", s.CreateAlertTarget(ctx, admin, mail, nil))
		want := domain.AlertTarget{ID: mail.ID, OrgID: org.ID, Kind: domain.TargetEmail, Name: "Security",
			Recipients: []string{"sec@acme.example", "ops@acme.example"}, OnFailing: true, MinSeverity: "low", Enabled: true,
			CreatedAt: monitorStart, UpdatedAt: monitorStart}
		if diff := cmp.Diff(want, *mail); diff != "" {
			t.Errorf("created target mismatch (-want +got):\n%s", diff)
		}
		wantEvent(t, lastEvent(t, s, org.ID), domain.EventAlertTargetCreated, subject("alert_target", mail.ID), map[string]any{
			"name": "Security", "kind": "email", "destination": "", "recipients": []any{"sec@acme.example", "ops@acme.example"},
			"on_failing": true, "on_recovered": false, "min_severity": "low", "enabled": true,
		})

		hook := &domain.AlertTarget{OrgID: org.ID, Kind: domain.TargetWebhook, Name: "SIEM", Destination: "https://siem.example/…",
			OnFailing: true, OnRecovered: true, MinSeverity: "high", Enabled: true}
		must(t, "CreateAlertTarget(webhook)", s.CreateAlertTarget(ctx, admin, hook, sealedURL("siem")))
		sec, err := s.AlertTargetSecret(ctx, org.ID, hook.ID)
		must(t, "AlertTargetSecret", err)
		if diff := cmp.Diff(*sealedURL("siem"), *sec); diff != "" {
			t.Errorf("AlertTargetSecret mismatch (-want +got):\n%s", diff)
		}
		_, err = s.AlertTargetSecret(ctx, org.ID, mail.ID)
		wantKind(t, "AlertTargetSecret(email)", err, domain.KindNotFound)

		for _, tc := range []struct {
			name  string
			t     domain.AlertTarget
			sec   *domain.SealedSecret
			field string
		}{
			{"no name", domain.AlertTarget{Kind: domain.TargetEmail, OnFailing: true}, nil, "name"},
			{"bad kind", domain.AlertTarget{Kind: "pager", Name: "x", OnFailing: true}, nil, "kind"},
			{"no events", domain.AlertTarget{Kind: domain.TargetEmail, Name: "x"}, nil, "events"},
			{"bad severity", domain.AlertTarget{Kind: domain.TargetEmail, Name: "x", OnFailing: true, MinSeverity: "urgent"}, nil, "min_severity"},
			{"bad recipient", domain.AlertTarget{Kind: domain.TargetEmail, Name: "x", OnFailing: true, Recipients: []string{"Ann <a@b.example>"}}, nil, "recipients"},
			{"recipients on slack", domain.AlertTarget{Kind: domain.TargetSlack, Name: "x", OnFailing: true, Recipients: []string{"a@b.example"}}, sealedURL("x"), "recipients"},
			{"slack without url", domain.AlertTarget{Kind: domain.TargetSlack, Name: "x", OnFailing: true}, nil, "url"},
			{"email with url", domain.AlertTarget{Kind: domain.TargetEmail, Name: "x", OnFailing: true}, sealedURL("x"), "url"},
			{"unsealed", domain.AlertTarget{Kind: domain.TargetWebhook, Name: "x", OnFailing: true}, &domain.SealedSecret{Ciphertext: []byte("plain")}, "url"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.t.OrgID = org.ID
				wantInvalid(t, "CreateAlertTarget", s.CreateAlertTarget(ctx, admin, &tc.t, tc.sec), tc.field)
			})
		}
		dup := &domain.AlertTarget{OrgID: org.ID, Kind: domain.TargetEmail, Name: "Security", OnFailing: true}
		wantKind(t, "CreateAlertTarget(same name)", s.CreateAlertTarget(ctx, admin, dup, nil), domain.KindConflict)
		must(t, "CreateAlertTarget(same name, other org)", s.CreateAlertTarget(ctx, admin,
			&domain.AlertTarget{OrgID: other.ID, Kind: domain.TargetEmail, Name: "Security", OnFailing: true}, nil))

		// Another organization's IDs find nothing and change nothing.
		_, err = s.AlertTarget(ctx, other.ID, hook.ID)
		wantKind(t, "AlertTarget(other org)", err, domain.KindNotFound)
		_, err = s.AlertTargetSecret(ctx, other.ID, hook.ID)
		wantKind(t, "AlertTargetSecret(other org)", err, domain.KindNotFound)
		_, err = s.UpdateAlertTarget(ctx, admin, other.ID, hook.ID, domain.AlertTargetChange{Enabled: ptr(false)})
		wantKind(t, "UpdateAlertTarget(other org)", err, domain.KindNotFound)
		wantKind(t, "DeleteAlertTarget(other org)", s.DeleteAlertTarget(ctx, admin, other.ID, hook.ID), domain.KindNotFound)
		got, err := s.AlertTarget(ctx, org.ID, hook.ID)
		must(t, "AlertTarget", err)
		if !got.Enabled || got.Name != "SIEM" {
			t.Errorf("after another organization's changes the target is %+v; want it unchanged", got)
		}

		clk.advance(time.Minute)
		dest := "https://siem2.example/…"
		up, err := s.UpdateAlertTarget(ctx, admin, org.ID, hook.ID, domain.AlertTargetChange{
			Name: ptr("SIEM 2"), MinSeverity: ptr("critical"), Enabled: ptr(false), OnRecovered: ptr(false),
			Destination: &dest, Secret: sealedURL("siem2"), SecretChange: "url",
		})
		must(t, "UpdateAlertTarget", err)
		if up.Name != "SIEM 2" || up.MinSeverity != "critical" || up.Enabled || up.OnRecovered || up.Destination != dest ||
			!up.UpdatedAt.Equal(clk.t) || !up.CreatedAt.Equal(monitorStart) {
			t.Errorf("UpdateAlertTarget = %+v; want renamed, critical, disabled, failing only, new destination", up)
		}
		wantEvent(t, lastEvent(t, s, org.ID), domain.EventAlertTargetUpdated, subject("alert_target", hook.ID), map[string]any{
			"name": "SIEM 2", "kind": "webhook",
			"changes": map[string]any{
				"name":         map[string]any{"from": "SIEM", "to": "SIEM 2"},
				"min_severity": map[string]any{"from": "high", "to": "critical"},
				"enabled":      map[string]any{"from": true, "to": false},
				"on_recovered": map[string]any{"from": true, "to": false},
				"destination":  map[string]any{"from": "https://siem.example/…", "to": dest},
				"sealed":       map[string]any{"from": "sealed", "to": "url replaced"},
			},
		})
		sec, err = s.AlertTargetSecret(ctx, org.ID, hook.ID)
		must(t, "AlertTargetSecret", err)
		if !bytes.Equal(sec.Ciphertext, sealedURL("siem2").Ciphertext) {
			t.Errorf("AlertTargetSecret after update = %q; want the new sealed settings", sec.Ciphertext)
		}
		_, err = s.UpdateAlertTarget(ctx, admin, org.ID, hook.ID, domain.AlertTargetChange{OnFailing: ptr(false)})
		wantInvalid(t, "UpdateAlertTarget(no events)", err, "events")
		_, err = s.UpdateAlertTarget(ctx, admin, org.ID, hook.ID, domain.AlertTargetChange{Name: ptr("Security")})
		wantKind(t, "UpdateAlertTarget(name taken)", err, domain.KindConflict)
		_, err = s.UpdateAlertTarget(ctx, admin, org.ID, mail.ID, domain.AlertTargetChange{Destination: &dest, Secret: sealedURL("x")})
		wantInvalid(t, "UpdateAlertTarget(url on email)", err, "url")
		before := len(trail(t, s, org.ID))
		same, err := s.UpdateAlertTarget(ctx, admin, org.ID, mail.ID, domain.AlertTargetChange{Name: ptr("Security")})
		must(t, "UpdateAlertTarget(no change)", err)
		if same.Name != "Security" || len(trail(t, s, org.ID)) != before {
			t.Errorf("an update that changes nothing wrote an event or changed the target: %+v", same)
		}

		list, err := s.AlertTargets(ctx, org.ID)
		must(t, "AlertTargets", err)
		if len(list) != 2 || list[0].Name != "SIEM 2" || list[1].Name != "Security" {
			t.Errorf("AlertTargets = %+v; want SIEM 2 and Security, by name", list)
		}

		must(t, "DeleteAlertTarget", s.DeleteAlertTarget(ctx, admin, org.ID, hook.ID))
		wantEvent(t, lastEvent(t, s, org.ID), domain.EventAlertTargetDeleted, subject("alert_target", hook.ID),
			map[string]any{"name": "SIEM 2", "kind": "webhook"})
		_, err = s.AlertTarget(ctx, org.ID, hook.ID)
		wantKind(t, "AlertTarget(deleted)", err, domain.KindNotFound)

		for _, ev := range trail(t, s, org.ID) {
			if strings.Contains(string(ev.Data), "sealed-url:") {
				t.Errorf("event %d (%s) holds sealed settings: %s", ev.Index, ev.Type, ev.Data)
			}
		}
	})
}

func TestAlertTargetMatches(t *testing.T) {
	target := domain.AlertTarget{Enabled: true, OnFailing: true, MinSeverity: "high"}
	for _, tc := range []struct {
		name   string
		edit   func(t *domain.AlertTarget)
		alert  domain.Alert
		result bool
	}{
		{"failing high", nil, domain.Alert{State: domain.AlertFailing, Severity: "high"}, true},
		{"failing critical", nil, domain.Alert{State: domain.AlertFailing, Severity: "critical"}, true},
		{"failing medium", nil, domain.Alert{State: domain.AlertFailing, Severity: "medium"}, false},
		{"recovered unwanted", nil, domain.Alert{State: domain.AlertRecovered, Severity: "critical"}, false},
		{"recovered wanted", func(t *domain.AlertTarget) { t.OnRecovered = true }, domain.Alert{State: domain.AlertRecovered, Severity: "high"}, true},
		{"disabled", func(t *domain.AlertTarget) { t.Enabled = false }, domain.Alert{State: domain.AlertFailing, Severity: "critical"}, false},
		{"unknown severity is below every minimum", func(t *domain.AlertTarget) { t.MinSeverity = "low" }, domain.Alert{State: domain.AlertFailing, Severity: ""}, false},
		{"low minimum", func(t *domain.AlertTarget) { t.MinSeverity = "low" }, domain.Alert{State: domain.AlertFailing, Severity: "low"}, true},
	} {
		tg := target
		if tc.edit != nil {
			tc.edit(&tg)
		}
		if got := tg.Matches(&tc.alert); got != tc.result {
			t.Errorf("%s: Matches(%s %q) = %v; want %v", tc.name, tc.alert.State, tc.alert.Severity, got, tc.result)
		}
	}
}

func TestAlertDeliveries(t *testing.T) {
	storetest.EachPair(t, func(t *testing.T, a, b *store.Store) {
		f := newFixture(t, a)
		b.Now = f.clk.now
		other := newOrg(t, a, "other")
		hook := &domain.AlertTarget{OrgID: f.org.ID, Kind: domain.TargetWebhook, Name: "SIEM", Destination: "https://siem.example/…",
			OnFailing: true, OnRecovered: true, Enabled: true}
		must(t, "CreateAlertTarget", a.CreateAlertTarget(ctx, admin, hook, sealedURL("siem")))
		mail := &domain.AlertTarget{OrgID: f.org.ID, Kind: domain.TargetEmail, Name: "Owners", OnFailing: true, Enabled: true}
		must(t, "CreateAlertTarget", a.CreateAlertTarget(ctx, admin, mail, nil))

		// An exception keeps v2 out of the alert's resources.
		f.record(t, "v1=pass", "v2=fail", "v3=pass")
		must(t, "CreateException", a.CreateException(ctx, admin, &domain.Exception{OrgID: f.org.ID, TestID: f.test.ID,
			ExternalID: "v2", Justification: "Accepted", ApproverID: f.ann.ID, ExpiresAt: f.clk.t.Add(24 * time.Hour)}))
		f.clk.advance(time.Hour)
		f.record(t, "v1=pass", "v2=fail", "v3=pass") // recovered: v2 is excepted
		claimed, err := a.PendingAlerts(ctx, "setup", time.Minute, 10)
		must(t, "PendingAlerts(setup)", err)
		for _, al := range claimed {
			must(t, "MarkDelivered(setup)", a.MarkDelivered(ctx, "setup", al.ID))
		}
		f.clk.advance(time.Hour)
		_, alerts := f.record(t, "v1=fail", "v2=fail", "v3=fail")
		if len(alerts) != 1 || alerts[0].State != domain.AlertFailing {
			t.Fatalf("alerts = %+v; want one failing alert", alerts)
		}
		alertID := alerts[0].ID
		details, err := b.AlertDetails(ctx, f.org.ID, domain.AlertFilter{Limit: 1})
		must(t, "AlertDetails", err)
		wantRes := []domain.AlertResource{{Type: "custom.vendor", ExternalID: "v1", Name: "Mail"}, {Type: "custom.vendor", ExternalID: "v3", Name: "Chat"}}
		if len(details) != 1 || details[0].ID != alertID || !details[0].Pending() || len(details[0].Deliveries) != 0 {
			t.Fatalf("AlertDetails = %+v; want the pending alert without deliveries", details)
		}
		if diff := cmp.Diff(wantRes, details[0].Resources); diff != "" {
			t.Errorf("alert resources mismatch (-want +got):\n%s", diff)
		}
		if details[0].Failing != 2 {
			t.Errorf("alert failing = %d; want 2 (the excepted resource left out)", details[0].Failing)
		}

		claimed, err = a.PendingAlerts(ctx, "notifier-a", time.Minute, 10)
		must(t, "PendingAlerts", err)
		if len(claimed) != 1 || claimed[0].ID != alertID {
			t.Fatalf("PendingAlerts = %+v; want the alert", claimed)
		}
		next := f.clk.t.Add(5 * time.Minute)
		delivered := f.clk.t
		recs := []domain.AlertDelivery{
			{TargetID: &hook.ID, TargetName: hook.Name, TargetKind: hook.Kind, Status: domain.DeliveryRetrying, Attempts: 4, Rounds: 1,
				LastError: "post to https://siem.example/…: 503 Service Unavailable", DeliveryID: "d-1", NextAttemptAt: &next},
			{TargetID: &mail.ID, TargetName: mail.Name, TargetKind: mail.Kind, Status: domain.DeliveryDelivered, Attempts: 1, Rounds: 1,
				DeliveryID: "d-2", DeliveredAt: &delivered},
		}
		wantKind(t, "RecordAlertDeliveries(not the owner)", b.RecordAlertDeliveries(ctx, "notifier-b", f.org.ID, alertID, recs), domain.KindConflict)
		wantKind(t, "RecordAlertDeliveries(other org)", b.RecordAlertDeliveries(ctx, "notifier-a", other.ID, alertID, recs), domain.KindNotFound)
		bad := []domain.AlertDelivery{{TargetName: "x", TargetKind: domain.TargetSlack, Status: domain.DeliveryFailed}}
		wantInvalid(t, "RecordAlertDeliveries(no target)", a.RecordAlertDeliveries(ctx, "notifier-a", f.org.ID, alertID, bad), "deliveries[0].target_id")
		must(t, "RecordAlertDeliveries", a.RecordAlertDeliveries(ctx, "notifier-a", f.org.ID, alertID, recs))
		must(t, "ReleaseAlert", a.ReleaseAlert(ctx, "notifier-a", f.org.ID, alertID, next))
		wantKind(t, "ReleaseAlert(again)", a.ReleaseAlert(ctx, "notifier-a", f.org.ID, alertID, next), domain.KindConflict)
		wantKind(t, "ReleaseAlert(other org)", a.ReleaseAlert(ctx, "notifier-a", other.ID, alertID, next), domain.KindNotFound)

		d, err := b.AlertDetail(ctx, f.org.ID, alertID)
		must(t, "AlertDetail", err)
		if len(d.Deliveries) != 2 || d.Deliveries[0].TargetName != "Owners" || d.Deliveries[1].TargetName != "SIEM" {
			t.Fatalf("deliveries = %+v; want Owners then SIEM", d.Deliveries)
		}
		if got := d.Deliveries[1]; got.Status != domain.DeliveryRetrying || got.Attempts != 4 || got.NextAttemptAt == nil ||
			!got.NextAttemptAt.Equal(next) || *got.TargetID != hook.ID || got.LastError == "" {
			t.Errorf("SIEM delivery = %+v; want retrying at %v after 4 attempts", got, next)
		}
		if got := d.Deliveries[0]; got.Status != domain.DeliveryDelivered || got.DeliveredAt == nil || got.DeliveryID != "d-2" {
			t.Errorf("Owners delivery = %+v; want delivered", got)
		}
		_, err = b.AlertDetail(ctx, other.ID, alertID)
		wantKind(t, "AlertDetail(other org)", err, domain.KindNotFound)
		if od, err := b.AlertDetails(ctx, other.ID, domain.AlertFilter{}); err != nil || len(od) != 0 {
			t.Errorf("AlertDetails(other org) = %+v, %v; want none", od, err)
		}

		// Released until next: not claimed before, claimed from then on.
		if got, err := b.PendingAlerts(ctx, "notifier-b", time.Minute, 10); err != nil || len(got) != 0 {
			t.Fatalf("PendingAlerts before the next try = %+v, %v; want none", got, err)
		}
		f.clk.t = next
		got, err := b.PendingAlerts(ctx, "notifier-b", time.Minute, 10)
		must(t, "PendingAlerts(at the next try)", err)
		if len(got) != 1 {
			t.Fatalf("PendingAlerts at the next try = %+v; want the alert", got)
		}
		wantKind(t, "RecordAlertDeliveries(lost claim)", a.RecordAlertDeliveries(ctx, "notifier-a", f.org.ID, alertID, recs), domain.KindConflict)
		recs[0].Status, recs[0].Attempts, recs[0].Rounds, recs[0].LastError, recs[0].NextAttemptAt, recs[0].DeliveredAt = domain.DeliveryDelivered, 5, 2, "", nil, &next
		must(t, "RecordAlertDeliveries(b)", b.RecordAlertDeliveries(ctx, "notifier-b", f.org.ID, alertID, recs[:1]))
		must(t, "MarkDelivered", b.MarkDelivered(ctx, "notifier-b", alertID))
		wantKind(t, "RecordAlertDeliveries(delivered)", b.RecordAlertDeliveries(ctx, "notifier-b", f.org.ID, alertID, recs), domain.KindConflict)

		// A deleted target's delivery stays, under its name.
		must(t, "DeleteAlertTarget", a.DeleteAlertTarget(ctx, admin, f.org.ID, hook.ID))
		d, err = b.AlertDetail(ctx, f.org.ID, alertID)
		must(t, "AlertDetail", err)
		if d.Pending() || len(d.Deliveries) != 2 || d.Deliveries[1].TargetID != nil || d.Deliveries[1].TargetName != "SIEM" ||
			d.Deliveries[1].Status != domain.DeliveryDelivered || d.Deliveries[1].Attempts != 5 {
			t.Errorf("after the delivery and the target's deletion = %+v; want delivered, SIEM kept without its ID", d)
		}

		n, err := b.CountTasks(ctx, f.org.ID, domain.TaskFilter{})
		must(t, "CountTasks", err)
		if want := len(f.tasks(t, domain.TaskFilter{})); n != want || n == 0 {
			t.Errorf("CountTasks = %d; want %d open tasks", n, want)
		}
		if n, err := b.CountTasks(ctx, other.ID, domain.TaskFilter{}); err != nil || n != 0 {
			t.Errorf("CountTasks(other org) = %d, %v; want 0", n, err)
		}
	})
}
