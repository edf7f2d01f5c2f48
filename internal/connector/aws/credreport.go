package aws

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// rootReportUser is the user column of the root user's row in the credential report.
const rootReportUser = "<root_account>"

// reportKey is one access key's columns in the credential report.
type reportKey struct {
	Active          bool
	LastRotated     *time.Time
	LastUsed        *time.Time
	LastUsedRegion  string
	LastUsedService string
}

// reportRow is one line of the IAM credential report.
type reportRow struct {
	User                string
	ARN                 string
	CreatedAt           *time.Time
	PasswordEnabled     bool
	PasswordLastUsed    *time.Time
	PasswordLastChanged *time.Time
	MFAActive           bool
	Keys                [2]reportKey
}

// credentialReport is the parsed report, by ARN.
type credentialReport map[string]reportRow

// root returns the root user's row.
func (c credentialReport) root() (reportRow, bool) {
	for _, row := range c {
		if row.User == rootReportUser {
			return row, true
		}
	}
	return reportRow{}, false
}

// requiredColumns must be in every credential report; the other known columns are read
// when present so that a report from an older or newer IAM still parses.
var requiredColumns = []string{"user", "arn", "password_enabled", "mfa_active"}

// parseCredentialReport parses the CSV credential report IAM returns from
// GetCredentialReport. Columns are found by their header, so their order does not matter
// and unknown columns are ignored. An error names the line and column at fault.
func parseCredentialReport(data []byte) (credentialReport, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("credential report: empty")
	}
	if err != nil {
		return nil, fmt.Errorf("credential report: %w", err)
	}
	col := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if h == "" {
			return nil, fmt.Errorf("credential report: line 1, column %d: empty header", i+1)
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("credential report: line 1: column %q appears twice", h)
		}
		col[h] = i
	}
	for _, name := range requiredColumns {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("credential report: line 1: missing column %q", name)
		}
	}

	out := credentialReport{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// csv.ParseError already says "record on line N".
			return nil, fmt.Errorf("credential report: %w", err)
		}
		line, _ := cr.FieldPos(0)
		p := rowParser{rec: rec, col: col, line: line}
		row := reportRow{
			User:                p.text("user"),
			ARN:                 p.text("arn"),
			CreatedAt:           p.time("user_creation_time"),
			PasswordEnabled:     p.bool("password_enabled"),
			PasswordLastUsed:    p.time("password_last_used"),
			PasswordLastChanged: p.time("password_last_changed"),
			MFAActive:           p.bool("mfa_active"),
		}
		for i := range row.Keys {
			prefix := fmt.Sprintf("access_key_%d_", i+1)
			row.Keys[i] = reportKey{
				Active:          p.bool(prefix + "active"),
				LastRotated:     p.time(prefix + "last_rotated"),
				LastUsed:        p.time(prefix + "last_used_date"),
				LastUsedRegion:  p.text(prefix + "last_used_region"),
				LastUsedService: p.text(prefix + "last_used_service"),
			}
		}
		if p.err != nil {
			return nil, p.err
		}
		if row.User == "" {
			return nil, fmt.Errorf("credential report: line %d, column \"user\": empty", line)
		}
		if !strings.HasPrefix(row.ARN, "arn:") {
			return nil, fmt.Errorf("credential report: line %d, column \"arn\": %q is not an ARN", line, row.ARN)
		}
		if _, dup := out[row.ARN]; dup {
			return nil, fmt.Errorf("credential report: line %d: %s appears twice", line, row.ARN)
		}
		out[row.ARN] = row
	}
	return out, nil
}

// rowParser reads the columns of one record, keeping the first error.
type rowParser struct {
	rec  []string
	col  map[string]int
	line int
	err  error
}

// absent reports whether a value means "nothing here" in the credential report.
func absent(v string) bool {
	switch v {
	case "", "N/A", "not_supported", "no_information":
		return true
	}
	return false
}

func (p *rowParser) raw(name string) (string, bool) {
	i, ok := p.col[name]
	if !ok || i >= len(p.rec) {
		return "", false
	}
	return strings.TrimSpace(p.rec[i]), true
}

func (p *rowParser) text(name string) string {
	v, _ := p.raw(name)
	if absent(v) {
		return ""
	}
	return v
}

func (p *rowParser) bool(name string) bool {
	v, _ := p.raw(name)
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	}
	if absent(v) {
		return false
	}
	p.setErr(name, fmt.Errorf("%q is not true or false", v))
	return false
}

func (p *rowParser) time(name string) *time.Time {
	v, _ := p.raw(name)
	if absent(v) {
		return nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		p.setErr(name, fmt.Errorf("%q is not an ISO 8601 timestamp", v))
		return nil
	}
	t = t.UTC()
	return &t
}

func (p *rowParser) setErr(name string, err error) {
	if p.err == nil {
		p.err = fmt.Errorf("credential report: line %d, column %q: %w", p.line, name, err)
	}
}

// fetchCredentialReport asks IAM to generate the credential report, waits until it is
// ready and parses it. IAM regenerates it at most every four hours, so its login and
// key-use dates may be that old; the list APIs supply the current state where it matters.
func (r *run) fetchCredentialReport(ctx context.Context, client *iam.Client) (credentialReport, error) {
	for poll := 1; ; poll++ {
		gen, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			return nil, fmt.Errorf("generate credential report: %w", err)
		}
		if gen.State == iamtypes.ReportStateTypeComplete {
			out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
			switch {
			case err == nil:
				if out.ReportFormat != "" && out.ReportFormat != iamtypes.ReportFormatTypeTextCsv {
					return nil, fmt.Errorf("get credential report: unexpected format %q", out.ReportFormat)
				}
				return parseCredentialReport(out.Content)
			case !isCode(err, "ReportInProgress", "ReportNotPresent", "ReportExpired"):
				return nil, fmt.Errorf("get credential report: %w", err)
			}
		}
		if poll >= credentialReportPolls {
			return nil, fmt.Errorf("credential report: still being generated after %d checks", poll)
		}
		if err := sleep(ctx, r.opts.PollInterval); err != nil {
			return nil, err
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ptrTime returns the time a pointer holds, in UTC, or nil.
func ptrTime(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
