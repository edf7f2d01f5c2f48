package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
)

// item is one piece of the demonstration's evidence, added by the owner of its control.
// Its effective period is the one its control's frequency requires at the time of the
// seed (current) or the one before it (stale, so that it shows as due or overdue).
type item struct {
	ref   string // the control
	by    string // email of who adds it
	stale bool
	kind  domain.EvidenceKind
	title string // may hold {period}, replaced by the period's name
	desc  string
	file  string // file name, for files
	body  string // the file's content, the note's text, or the link's address
	// correction, when set, supersedes the item with this one.
	correction *item
	// retraction, when set, withdraws the item for this reason.
	retraction string
}

// evidencePlan is the demonstration's evidence: current for some controls, stale for
// others, with one item corrected and one withdrawn.
var evidencePlan = []item{
	{ref: "AC-02", by: priya, kind: domain.EvidenceFile, title: "Okta MFA enforcement policy export",
		desc: "Okta global session policy requiring phishing-resistant MFA for every sign-in, exported from the admin console.",
		file: "okta-mfa-policy.json",
		body: `{"policy":"Global Session Policy","rules":[{"name":"All employees","factorMode":"2FA","factorRequired":["okta_verify_push","webauthn"],"sessionLifetimeMinutes":720}],"exportedBy":"priya.raman@acme.example"}` + "\n"},
	{ref: "GOV-06", by: daniel, kind: domain.EvidenceFile, title: "Management security review minutes, {period}",
		desc: "Agenda, minutes and action list of the quarterly management security review.",
		file: "management-security-review.md",
		body: "# Management security review\n\nAttendees: Olivia Grant, Daniel Okafor, Maya Chen, Sam Rivera.\n\n" +
			"1. Readiness: score reviewed; access review and IR test remain open.\n2. Incidents: none of severity 1 or 2.\n" +
			"3. Risks: vendor addendum rollout owned by Maya, due end of quarter.\n\nActions: 3 opened, 2 closed from last review.\n"},
	{ref: "HR-02", by: lena, kind: domain.EvidenceFile, title: "Security awareness training completions, {period}",
		desc: "Completion export from the training platform for every employee and contractor.",
		file: "training-completions.csv",
		body: "email,course,completed_on\nmaya.chen@acme.example,Security Awareness,2025-02-03\n" +
			"sam.rivera@acme.example,Security Awareness,2025-02-05\n",
		correction: &item{kind: domain.EvidenceFile, title: "Security awareness training completions, {period} (all staff)",
			desc: "Completion export for every employee and contractor; the first upload left out the contractors.",
			file: "training-completions-all-staff.csv",
			body: "email,course,completed_on\nmaya.chen@acme.example,Security Awareness,2025-02-03\n" +
				"sam.rivera@acme.example,Security Awareness,2025-02-05\nj.doe@contractor.example,Security Awareness,2025-02-11\n"}},
	{ref: "VEN-04", by: maya, kind: domain.EvidenceLink, title: "AWS SOC 2 Type II report review, {period}",
		desc: "Review of the AWS SOC 2 report (opinion unqualified; complementary user entity controls mapped to ours).",
		body: "https://aws.amazon.com/artifact/"},
	{ref: "BCP-04", by: sam, stale: true, kind: domain.EvidenceNote, title: "Backup restore test, {period}",
		desc: "Restore of the customer database snapshot into an isolated account.",
		body: "Restored the nightly RDS snapshot of the customer database into the recovery account. " +
			"Restore took 41 minutes against an RTO of 4 hours; row counts and checksums of 12 tables matched production."},
	{ref: "VUL-02", by: sam, stale: true, kind: domain.EvidenceFile, title: "Open vulnerabilities past their timeline, {period}",
		desc: "Monthly report of open findings by severity with their age against the patching timelines.",
		file: "vulnerability-sla-report.csv",
		body: "severity,open,past_timeline\ncritical,0,0\nhigh,3,1\nmedium,17,4\n"},
	{ref: "LOG-05", by: sam, stale: true, kind: domain.EvidenceNote, title: "Weekly security review, {period}",
		desc: "Alerts reviewed and detection tuning made in the weekly security review.",
		body: "Reviewed 23 GuardDuty findings (all low, 2 suppressed as known scanners) and 4 failed-login alerts; tuned the impossible-travel rule for the VPN."},
	{ref: "NET-03", by: sam, kind: domain.EvidenceFile, title: "Firewall rule review, {period}",
		desc:       "Semi-annual review of security group rules.",
		file:       "security-group-review.csv",
		body:       "account,group,rule,decision\nacme-staging,sg-web,0.0.0.0/0:22,removed\n",
		retraction: "Uploaded the staging account's review, not production's; the production review follows."},
}

// periodOf returns the effective period of an item: the period its control's frequency
// requires now, or the one before it when stale.
func periodOf(f domain.Frequency, now time.Time, stale bool) (time.Time, time.Time) {
	start, end, _ := domain.RequiredPeriod(f, now)
	if f == domain.FrequencyContinuous || f == domain.FrequencyDaily {
		// Evidence of a continuous control speaks for the quarter up to the day of the seed.
		end = domain.DateOf(now)
		start = end.AddDate(0, -3, 0)
	}
	if stale {
		start, end, _ = domain.RequiredPeriod(f, start)
	}
	return start, end
}

// seedEvidence adds the evidence of the plan that the organization does not have yet,
// found by title, and makes the corrections and withdrawals not made yet.
func seedEvidence(ctx context.Context, st domain.Store, svc *evidence.Service, orgID int64, ids map[string]int64, now time.Time) error {
	have, err := allEvidence(ctx, st, orgID)
	if err != nil {
		return fmt.Errorf("demo evidence: %w", err)
	}
	for _, it := range evidencePlan {
		c, err := st.ControlByRef(ctx, orgID, it.ref)
		if err != nil {
			return fmt.Errorf("demo evidence for %s: %w", it.ref, err)
		}
		start, end := periodOf(c.Frequency, now, it.stale)
		label := domain.PeriodLabel(c.Frequency, start, end)
		actor := domain.Actor{UserID: ids[it.by], Email: it.by}
		title := strings.ReplaceAll(it.title, "{period}", label)
		e, ok := have[title]
		if !ok {
			if e, err = svc.Add(ctx, actor, orgID, it.input(c.ID, title, start, end)); err != nil {
				return fmt.Errorf("demo evidence %q: %w", title, err)
			}
		}
		switch {
		case it.correction != nil && e.Current():
			fix := it.correction
			fixTitle := strings.ReplaceAll(fix.title, "{period}", label)
			if _, err := svc.Supersede(ctx, actor, orgID, e.ID, fix.input(c.ID, fixTitle, start, end)); err != nil {
				return fmt.Errorf("demo evidence %q: %w", fixTitle, err)
			}
		case it.retraction != "" && e.Current():
			if _, err := svc.Retract(ctx, actor, orgID, e.ID, it.retraction); err != nil {
				return fmt.Errorf("demo evidence %q: %w", title, err)
			}
		}
	}
	return nil
}

// input is the item as the evidence service takes it.
func (it *item) input(controlID int64, title string, start, end time.Time) evidence.Input {
	in := evidence.Input{
		Kind: it.kind, Title: title, Description: it.desc, ControlIDs: []int64{controlID},
		PeriodStart: start, PeriodEnd: end,
	}
	switch it.kind {
	case domain.EvidenceFile:
		in.File, in.FileName = strings.NewReader(it.body), it.file
	case domain.EvidenceLink:
		in.URL = it.body
	default:
		in.Note = it.body
	}
	return in
}

// allEvidence returns the organization's evidence by title, every state included.
func allEvidence(ctx context.Context, st domain.Store, orgID int64) (map[string]*domain.Evidence, error) {
	out := map[string]*domain.Evidence{}
	f := domain.EvidenceFilter{IncludeSuperseded: true, IncludeRetracted: true, Limit: 1000}
	for {
		page, err := st.EvidenceList(ctx, orgID, f)
		if err != nil {
			return nil, err
		}
		for i := range page {
			if _, ok := out[page[i].Title]; !ok {
				out[page[i].Title] = &page[i]
			}
		}
		if len(page) < f.Limit {
			return out, nil
		}
		f.Before = page[len(page)-1].ID
	}
}
