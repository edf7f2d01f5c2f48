package aws

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func readReport(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "credential-report.csv"))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func tp(s string) *time.Time {
	t := ts(s)
	return &t
}

func TestParseCredentialReport(t *testing.T) {
	got, err := parseCredentialReport(readReport(t))
	if err != nil {
		t.Fatalf("parseCredentialReport: %v", err)
	}
	want := credentialReport{
		"arn:aws:iam::123456789012:root": {
			User: "<root_account>", ARN: "arn:aws:iam::123456789012:root", CreatedAt: tp("2019-05-01T12:00:00Z"),
			PasswordLastUsed: tp("2024-02-11T17:45:00Z"), MFAActive: true,
			Keys: [2]reportKey{{Active: true, LastRotated: tp("2019-05-02T08:00:00Z"), LastUsed: tp("2023-08-01T06:30:00Z"), LastUsedRegion: "us-east-1", LastUsedService: "ec2"}},
		},
		"arn:aws:iam::123456789012:user/alice": {
			User: "alice", ARN: "arn:aws:iam::123456789012:user/alice", CreatedAt: tp("2022-03-01T09:00:00Z"),
			PasswordEnabled: true, PasswordLastUsed: tp("2024-05-30T08:15:00Z"), PasswordLastChanged: tp("2024-01-05T10:00:00Z"), MFAActive: true,
			Keys: [2]reportKey{{Active: true, LastRotated: tp("2024-01-10T11:00:00Z"), LastUsed: tp("2024-05-31T22:10:00Z"), LastUsedRegion: "us-east-1", LastUsedService: "s3"}},
		},
		"arn:aws:iam::123456789012:user/bob": {
			User: "bob", ARN: "arn:aws:iam::123456789012:user/bob", CreatedAt: tp("2020-01-15T14:00:00Z"),
			Keys: [2]reportKey{
				{Active: true, LastRotated: tp("2021-06-01T08:00:00Z")},
				{LastRotated: tp("2020-02-01T08:00:00Z"), LastUsed: tp("2020-03-01T12:00:00Z"), LastUsedRegion: "us-east-1", LastUsedService: "iam"},
			},
		},
		"arn:aws:iam::123456789012:user/ci/deploy-bot": {
			User: "deploy-bot", ARN: "arn:aws:iam::123456789012:user/ci/deploy-bot", CreatedAt: tp("2023-11-20T16:00:00Z"), MFAActive: true,
			Keys: [2]reportKey{{Active: true, LastRotated: tp("2023-11-20T16:05:00Z"), LastUsed: tp("2024-05-31T23:59:00Z"), LastUsedRegion: "eu-west-1", LastUsedService: "ecr"}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseCredentialReport mismatch (-want +got):\n%s", diff)
	}
	root, ok := got.root()
	if !ok || root.ARN != "arn:aws:iam::123456789012:root" {
		t.Errorf("root() = %+v, %v; want the root row", root, ok)
	}
}

func TestParseCredentialReportShapes(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		want    credentialReport
		wantErr string // "" for success
	}{
		{
			name: "columns in another order, unknown columns and a BOM",
			csv: "\ufeffarn,mfa_active,user,password_enabled,some_future_column\n" +
				"arn:aws:iam::1:user/x,FALSE,x,TRUE,whatever\n",
			want: credentialReport{"arn:aws:iam::1:user/x": {User: "x", ARN: "arn:aws:iam::1:user/x", PasswordEnabled: true}},
		},
		{
			name: "header only",
			csv:  "user,arn,password_enabled,mfa_active\n",
			want: credentialReport{},
		},
		{
			name: "CRLF line endings and quoted fields",
			csv:  "user,arn,password_enabled,mfa_active\r\n\"a,b\",\"arn:aws:iam::1:user/a,b\",false,true\r\n",
			want: credentialReport{"arn:aws:iam::1:user/a,b": {User: "a,b", ARN: "arn:aws:iam::1:user/a,b", MFAActive: true}},
		},
		{name: "empty", csv: "", wantErr: "credential report: empty"},
		{name: "missing column", csv: "user,arn,mfa_active\nx,arn:aws:iam::1:user/x,false\n", wantErr: `line 1: missing column "password_enabled"`},
		{name: "duplicate column", csv: "user,arn,user,password_enabled,mfa_active\n", wantErr: `line 1: column "user" appears twice`},
		{name: "empty header", csv: "user,,arn,password_enabled,mfa_active\n", wantErr: "line 1, column 2: empty header"},
		{
			name:    "bad boolean",
			csv:     "user,arn,password_enabled,mfa_active\nx,arn:aws:iam::1:user/x,false,false\ny,arn:aws:iam::1:user/y,maybe,false\n",
			wantErr: `line 3, column "password_enabled": "maybe" is not true or false`,
		},
		{
			name:    "bad timestamp",
			csv:     "user,arn,password_enabled,mfa_active,password_last_used\nx,arn:aws:iam::1:user/x,true,false,yesterday\n",
			wantErr: `line 2, column "password_last_used": "yesterday" is not an ISO 8601 timestamp`,
		},
		{
			name:    "short row",
			csv:     "user,arn,password_enabled,mfa_active\nx,arn:aws:iam::1:user/x,true\n",
			wantErr: "line 2",
		},
		{
			name:    "not an ARN",
			csv:     "user,arn,password_enabled,mfa_active\nx,user/x,true,false\n",
			wantErr: `line 2, column "arn": "user/x" is not an ARN`,
		},
		{
			name:    "empty user",
			csv:     "user,arn,password_enabled,mfa_active\n,arn:aws:iam::1:user/x,true,false\n",
			wantErr: `line 2, column "user": empty`,
		},
		{
			name:    "repeated user",
			csv:     "user,arn,password_enabled,mfa_active\nx,arn:aws:iam::1:user/x,true,false\nx,arn:aws:iam::1:user/x,true,false\n",
			wantErr: "line 3: arn:aws:iam::1:user/x appears twice",
		},
		{
			name:    "unterminated quote",
			csv:     "user,arn,password_enabled,mfa_active\n\"x,arn:aws:iam::1:user/x,true,false\n",
			wantErr: "line 2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCredentialReport([]byte(tt.csv))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("parseCredentialReport(%q) = %v; want an error containing %q", tt.csv, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parseCredentialReport(%q) error = %q; want it to contain %q", tt.csv, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCredentialReport(%q) = %v", tt.csv, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseCredentialReport(%q) mismatch (-want +got):\n%s", tt.csv, diff)
			}
		})
	}
}

// FuzzParseCredentialReport feeds arbitrary bytes to the parser: it must never panic, an
// error must name a line, and what it accepts must hold a user and an ARN on every row.
func FuzzParseCredentialReport(f *testing.F) {
	f.Add(readReport(f))
	f.Add([]byte("user,arn,password_enabled,mfa_active\n"))
	f.Add([]byte("user,arn,password_enabled,mfa_active\nx,arn:aws:iam::1:user/x,true,false\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := parseCredentialReport(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "credential report: ") {
				t.Errorf("error %q does not say it is about the credential report", err)
			}
			if !strings.Contains(err.Error(), "line") && err.Error() != "credential report: empty" {
				t.Errorf("error %q names no line", err)
			}
			return
		}
		for arn, row := range rep {
			if row.ARN != arn || row.User == "" || !strings.HasPrefix(arn, "arn:") {
				t.Errorf("accepted row %+v under %q", row, arn)
			}
		}
	})
}
