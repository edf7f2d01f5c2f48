package importer

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/monitor"
)

func TestProwlerSample(t *testing.T) {
	got, sum := importFile(t, "prowler", "prowler.ocsf.json")
	at := time.Date(2026, 5, 31, 8, 0, 0, 123456000, time.UTC)
	want := []monitor.Resource{
		fnd("prowler:s3_bucket_default_encryption:arn:aws:s3:::acme-data",
			"Check if S3 buckets have default encryption (SSE) enabled or use a bucket policy to enforce it. (acme-data)",
			map[string]any{
				"source": "prowler", "check_id": "s3_bucket_default_encryption",
				"title":  "Check if S3 buckets have default encryption (SSE) enabled or use a bucket policy to enforce it.",
				"status": "pass", "severity": "medium",
				"resource_id": "arn:aws:s3:::acme-data", "resource_type": "AwsS3Bucket",
				"account": "111111111111", "region": "eu-west-1",
				"message": "S3 Bucket acme-data has Server Side Encryption with aws:kms.",
				"remediation": "Ensure that S3 buckets have encryption at rest enabled. See aws s3api put-bucket-encryption --bucket <bucket_name> " +
					`--server-side-encryption-configuration '{"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}', ` +
					"https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html.",
				"compliance":  []string{"AWS-Foundational-Security-Best-Practices:s3", "CIS-3.0:2.1.1", "SOC2:cc_6_1", "SOC2:cc_6_7"},
				"observed_at": at,
			}),
		fnd("prowler:iam_no_root_access_key:arn:aws:iam::111111111111:root",
			"Ensure no root account access key exists (<root_account>)",
			map[string]any{
				"source": "prowler", "check_id": "iam_no_root_access_key",
				"title":  "Ensure no root account access key exists",
				"status": "fail", "severity": "critical",
				"resource_id": "arn:aws:iam::111111111111:root", "resource_type": "AwsIamUser",
				"account": "111111111111", "region": "us-east-1",
				"message": "Root account has an access key.",
				"remediation": "Use the credential report to check the user and ensure the access_key_1_active and access_key_2_active fields are set to FALSE. " +
					"See https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html.",
				"compliance":  []string{"CIS-3.0:1.4", "SOC2:cc_6_1"},
				"observed_at": at,
			}),
		fnd("prowler:ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22:arn:aws:ec2:eu-west-1:111111111111:security-group/sg-0a1b2c3d4e5f6a7b8",
			"Ensure no security groups allow ingress from 0.0.0.0/0 or ::/0 to SSH port 22. (bastion)",
			map[string]any{
				"source": "prowler", "check_id": "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
				"title":  "Ensure no security groups allow ingress from 0.0.0.0/0 or ::/0 to SSH port 22.",
				"status": "skip", "severity": "high",
				"resource_id":   "arn:aws:ec2:eu-west-1:111111111111:security-group/sg-0a1b2c3d4e5f6a7b8",
				"resource_type": "AwsEc2SecurityGroup",
				"account":       "111111111111", "region": "eu-west-1",
				"message":     "Muted in Prowler (FAIL). Security group sg-0a1b2c3d4e5f6a7b8 has SSH port 22 open to the Internet.",
				"remediation": "Restrict SSH to known addresses, or use Session Manager instead.",
				"observed_at": at,
			}),
		fnd("prowler:account_maintain_current_contact_details:arn:aws:iam::111111111111:root",
			"Maintain current contact details. (111111111111)",
			map[string]any{
				"source": "prowler", "check_id": "account_maintain_current_contact_details",
				"title":  "Maintain current contact details.",
				"status": "info", "severity": "medium",
				"resource_id": "arn:aws:iam::111111111111:root", "resource_type": "Other",
				"account": "111111111111", "region": "us-east-1",
				"message":     "Login to the AWS Console. Choose your account name on the top right of the window and select 'My Account'. Check the 'Alternate Contacts' section.",
				"remediation": "Using the Billing and Cost Management console complete contact details.",
				"compliance":  []string{"CIS-3.0:1.1"},
				"observed_at": at,
			}),
		fnd("prowler:core_minimize_root_containers_admission:6b1f3c9e-2a4d-4e8b-9c1a-0f2e3d4c5b6a",
			"Minimize the admission of root containers. (payments-7d9f8)",
			map[string]any{
				"source": "prowler", "check_id": "core_minimize_root_containers_admission",
				"title":  "Minimize the admission of root containers.",
				"status": "fail", "severity": "high",
				"resource_id": "6b1f3c9e-2a4d-4e8b-9c1a-0f2e3d4c5b6a", "resource_type": "Pod",
				"region":      "payments",
				"message":     "Pod payments-7d9f8 is running as root.",
				"remediation": "Set runAsNonRoot in the pod security context. See https://kubernetes.io/docs/concepts/security/pod-security-standards/.",
				"compliance":  []string{"CIS-1.10:5.2.7"},
				"observed_at": at,
			}),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Import(prowler sample) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"pass": 1, "fail": 2, "skip": 1, "info": 1}, sum.Statuses); diff != "" {
		t.Errorf("Summary.Statuses mismatch (-want +got):\n%s", diff)
	}
}

// prowlerElement writes a small valid finding with the given extra members.
func prowlerElement(extra string) string {
	return `{"status_code": "FAIL", "severity": "High", "metadata": {"event_code": "check"}, "finding_info": {"title": "Check"}, "time": 1780214400` + extra + `}`
}

func TestProwlerFields(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		attr   string
		want   any
		wantID string
	}{
		{"time_dt with zone", prowlerElement(`, "time_dt": "2026-05-31T10:00:00+02:00"`), "observed_at", time.Date(2026, 5, 31, 8, 0, 0, 0, time.UTC), ""},
		{"time in milliseconds", `{"status_code": "PASS", "metadata": {"event_code": "c"}, "time": 1780214400123}`, "observed_at", time.Date(2026, 5, 31, 8, 0, 0, 123e6, time.UTC), ""},
		{"created time only", `{"status_code": "PASS", "metadata": {"event_code": "c"}, "finding_info": {"created_time_dt": "2026-05-31T08:00:00"}}`, "observed_at", time.Date(2026, 5, 31, 8, 0, 0, 0, time.UTC), ""},
		{"severity from id", `{"status_code": "FAIL", "severity_id": 4, "metadata": {"event_code": "c"}, "time": 1}`, "severity", "high", ""},
		{"unknown severity", prowlerElement(`, "severity": "Unknown"`), "severity", "info", ""},
		{"muted pass", prowlerElement(`, "status": "Suppressed", "status_code": "PASS"`), "status", "skip", ""},
		{"title falls back to check", `{"status_code": "PASS", "metadata": {"event_code": "c"}, "time": 1}`, "title", "c", "prowler:c"},
		{"finding uid when no resource", prowlerElement(`, "finding_info": {"uid": "prowler-aws-check-1-eu-west-1-x"}`), "resource_id", "prowler-aws-check-1-eu-west-1-x", "prowler:check:prowler-aws-check-1-eu-west-1-x"},
		{"compliance as a string", prowlerElement(`, "unmapped": {"compliance": {"ISO27001": "A.8.1", "Empty": []}}`), "compliance", []string{"ISO27001:A.8.1"}, ""},
		{"cloud region", prowlerElement(`, "cloud": {"region": "ap-south-1", "account": {"uid": "3"}}`), "region", "ap-south-1", ""},
		{"lower-case status code", prowlerElement(`, "status_code": "fail"`), "status", "fail", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := importString(t, "prowler", "["+tc.in+"]")
			if err != nil {
				t.Fatalf("Import(%s) = %v", tc.in, err)
			}
			if len(got) != 1 {
				t.Fatalf("Import(%s) emitted %d resources; want 1", tc.in, len(got))
			}
			if diff := cmp.Diff(tc.want, got[0].Attributes[tc.attr]); diff != "" {
				t.Errorf("attribute %s mismatch (-want +got):\n%s", tc.attr, diff)
			}
			if tc.wantID != "" && got[0].ExternalID != tc.wantID {
				t.Errorf("ExternalID = %q; want %q", got[0].ExternalID, tc.wantID)
			}
		})
	}
}

func TestProwlerMalformed(t *testing.T) {
	checkMalformed(t, "prowler", []malformed{
		{"empty", "", "line 1: the file is empty; want a JSON array of findings (prowler … -M json-ocsf)"},
		{"blank", " \n\n", "line 1: the file is empty; want a JSON array of findings (prowler … -M json-ocsf)"},
		{"object", `{"findings": []}`, "line 1: a Prowler OCSF file is a JSON array of findings (prowler … -M json-ocsf), not an object"},
		{"string", "\n\n\"x\"", `line 3: a Prowler OCSF file is a JSON array of findings (prowler … -M json-ocsf), not a string`},
		{"syntax error", "[\n{\"status_code\": \"PASS\",\n \"metadata\": {\"event_code\": x}}]",
			"line 3: invalid JSON: invalid character 'x' looking for beginning of value"},
		{"newline in string", "[\n{\"message\":\n\"x\ny\"}]", `line 3: invalid JSON: invalid character '\n' in string literal`},
		{"missing comma", "[\n" + prowlerElement("") + "\n" + prowlerElement("") + "]", "line 3: invalid JSON: expected comma after array element"},
		{"wrong type", "[\n{\n\"status_code\": \"PASS\",\n\"finding_info\": {\"title\": 5}\n}]", "line 4, field finding_info.title: must be a string, not a number"},
		{"wrong type in a later resource", "[\n{\"resources\": [\n{\"uid\": \"a\"},\n{\"uid\":\n true}]}]", "line 5, field resources.uid: must be a string, not a boolean"},
		{"element not an object", "[\n" + prowlerElement("") + ",\n7]", "line 3: must be an object, not a number"},
		{"compliance not a list", "[{\"unmapped\": {\"compliance\": {\"CIS\": 5}}}]", "line 1, field unmapped.compliance: must be a list of strings, not a number"},
		{"missing check", "[\n" + prowlerElement("") + ",\n{\"status_code\": \"PASS\"}\n]",
			"line 3, field metadata.event_code: is required: it names the Prowler check (is this prowler -M json-ocsf output?)"},
		{"missing status code", `[{"metadata": {"event_code": "c"}}]`, "line 1, field status_code: is required: PASS, FAIL or MANUAL"},
		{"bad status code", "[\n\n" + prowlerElement(`, "status_code": "WARN"`) + "]", `line 3, field status_code: must be PASS, FAIL or MANUAL, not "WARN"`},
		{"bad severity", "[" + prowlerElement(`, "severity": "Severe"`) + "]", `line 1, field severity: must be Critical, High, Medium, Low, Informational or Unknown, not "Severe"`},
		{"bad time_dt", "[" + prowlerElement(`, "time_dt": "31/05/2026"`) + "]", `line 1, field time_dt: must be an ISO 8601 timestamp such as 2026-03-31T12:00:00Z, not "31/05/2026"`},
		{"bad time", "[\r\n{\"status_code\": \"PASS\", \"metadata\": {\"event_code\": \"c\"},\r\n\"time\": \"soon\"}]", `line 2, field time: must be a Unix time in seconds or milliseconds, not "soon"`},
		{"time an object", "[{\"status_code\": \"PASS\", \"metadata\": {\"event_code\": \"c\"}, \"time\": {}}]", "line 1, field time: must be a number, not an object"},
		{"no time", `[{"status_code": "PASS", "metadata": {"event_code": "c"}}]`, "line 1, field time_dt: is required (or time): when Prowler produced the finding"},
		{"truncated", "[\n" + prowlerElement("") + ",\n{\"status_code\": \"PA", "line 3: unexpected end of input"},
		{"not closed", "[\n" + prowlerElement("") + "\n", "line 2: unexpected end of input"},
		{"data after the array", "[]\n]", "line 2: unexpected data after the end of the JSON value"},
		{"second array", "[]\n\n[]", "line 3: unexpected data after the end of the JSON value"},
	})
}

// TestProwlerLineCount checks the line of an error deep in a large file, across many reads,
// with LF and CRLF line ends, so that lines are counted exactly as elements are left behind.
func TestProwlerLineCount(t *testing.T) {
	for _, eol := range []string{"\n", "\r\n"} {
		var b strings.Builder
		b.WriteString("[")
		line := 1
		for i := range 3000 {
			if i > 0 {
				b.WriteString(",")
			}
			el := strings.ReplaceAll(fmt.Sprintf("{\n    \"status_code\": \"PASS\",\n    \"metadata\": {\n        \"event_code\": \"check_%d\"\n    },\n    \"time\": 1780214400\n}", i), "\n", eol)
			b.WriteString(el)
			line += strings.Count(el, "\n")
		}
		// The bad element starts on the line the previous one ends on ("},{"), and its
		// error is two lines further down.
		b.WriteString(strings.ReplaceAll(",{\n    \"status_code\": \"PASS\",\n    \"metadata\": {\"event_code\": 42}\n}]", "\n", eol))
		want := fmt.Sprintf("line %d, field metadata.event_code: must be a string, not a number", line+2)
		readers := map[string]func(string) io.Reader{
			"plain": func(s string) io.Reader { return strings.NewReader(s) },
			"half":  func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
		}
		for name, reader := range readers {
			got, _, err := importReader(t, "prowler", reader(b.String()))
			if err == nil || err.Error() != want {
				t.Errorf("%q %s: Import = %v; want %q", eol, name, err, want)
			}
			if len(got) != 3000 {
				t.Errorf("%q %s: emitted %d before the error; want 3000", eol, name, len(got))
			}
		}
	}
}
