package aws

import (
	"net/url"
	"testing"
)

func TestGrantsEverything(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want bool
	}{
		{"AdministratorAccess", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, true},
		{"single statement object", `{"Statement":{"Effect":"Allow","Action":["*"],"Resource":["*"]}}`, true},
		{"service-prefixed wildcard", `{"Statement":[{"Effect":"Allow","Action":"*:*","Resource":"*"}]}`, true},
		{"conditional grant still counts", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}`, true},
		{"everything on one bucket", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}]}`, false},
		{"one service on everything", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, false},
		{"deny everything", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, false},
		{"NotAction is not Action", `{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, false},
		{"URL-encoded, as IAM returns it", url.QueryEscape(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parsePolicy(tt.doc)
			if err != nil {
				t.Fatalf("parsePolicy(%q): %v", tt.doc, err)
			}
			if got := grantsEverything(p); got != tt.want {
				t.Errorf("grantsEverything(%s) = %v; want %v", tt.doc, got, tt.want)
			}
		})
	}
}

func TestDeniesInsecureTransport(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want bool
	}{
		{"AWS's recommended statement", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, true},
		{"principal AWS star, boolean false", `{"Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false}}}]}`, true},
		{"BoolIfExists and a list", `{"Statement":[{"Effect":"Deny","Principal":{"AWS":["*"]},"Action":["s3:*"],"Resource":"*","Condition":{"BoolIfExists":{"aws:securetransport":["false"]}}}]}`, true},
		{"only uploads", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, false},
		{"one principal only", `{"Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, false},
		{"allow, not deny", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`, false},
		{"condition on true", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`, false},
		{"TLS version instead", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"NumericLessThan":{"s3:TlsVersion":"1.2"}}}]}`, false},
		{"no statements", `{"Statement":[]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parsePolicy(tt.doc)
			if err != nil {
				t.Fatalf("parsePolicy(%q): %v", tt.doc, err)
			}
			if got := deniesInsecureTransport(p); got != tt.want {
				t.Errorf("deniesInsecureTransport(%s) = %v; want %v", tt.doc, got, tt.want)
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, doc := range []string{"", "not json", `{"Statement":"x"}`, "%7Bbroken%ZZ", `{"Statement":[{"Condition":"x"}]}`} {
		if _, err := parsePolicy(doc); err == nil {
			t.Errorf("parsePolicy(%q) = nil error; want one", doc)
		}
	}
}

func TestAdministratorAccess(t *testing.T) {
	tests := []struct {
		arn  string
		want bool
	}{
		{"arn:aws:iam::aws:policy/AdministratorAccess", true},
		{"arn:aws-us-gov:iam::aws:policy/AdministratorAccess", true},
		{"arn:aws:iam::123456789012:policy/AdministratorAccess", false},
		{"arn:aws:iam::aws:policy/job-function/SystemAdministrator", false},
	}
	for _, tt := range tests {
		if got := administratorAccess(tt.arn); got != tt.want {
			t.Errorf("administratorAccess(%q) = %v; want %v", tt.arn, got, tt.want)
		}
	}
}

// FuzzPolicyChecks runs the policy checks over arbitrary documents: bucket policies and
// IAM documents come from the customer's account and must never crash a run.
func FuzzPolicyChecks(f *testing.F) {
	f.Add(`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
	f.Add(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	f.Add(url.QueryEscape(`{"Statement":[{"Effect":"Allow","Action":["*"],"Resource":["*"]}]}`))
	f.Add(`{"Statement":[{"Effect":"Deny","Principal":{"AWS":[1,2]},"Action":[null],"Condition":{"Bool":{"aws:SecureTransport":[[]]}}}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := parsePolicy(doc)
		if err != nil {
			return
		}
		grantsEverything(p)
		deniesInsecureTransport(p)
	})
}
