package importer

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/monitor"
)

func TestPowerpipeSample(t *testing.T) {
	got, sum := importFile(t, "powerpipe", "powerpipe.json")
	s3 := func(bucket, region, status, reason string) monitor.Resource {
		return fnd("steampipe:aws_compliance.control.s3_bucket_default_encryption_enabled:arn:aws:s3:::"+bucket,
			"S3 bucket default encryption should be enabled", map[string]any{
				"source": "steampipe", "check_id": "aws_compliance.control.s3_bucket_default_encryption_enabled",
				"title": "S3 bucket default encryption should be enabled", "status": status, "severity": "high",
				"resource_id": "arn:aws:s3:::" + bucket, "account": "111111111111", "region": region,
				"message": reason, "observed_at": testNow,
			})
	}
	mfa := func(account, user, status, reason string) monitor.Resource {
		arn := "arn:aws:iam::" + account + ":user/" + user
		return fnd("steampipe:aws_compliance.control.iam_user_mfa_enabled:"+arn, "IAM user MFA should be enabled", map[string]any{
			"source": "steampipe", "check_id": "aws_compliance.control.iam_user_mfa_enabled",
			"title": "IAM user MFA should be enabled", "status": status, "severity": "info",
			"resource_id": arn, "account": account, "region": "global", "message": reason, "observed_at": testNow,
		})
	}
	want := []monitor.Resource{
		s3("acme-data", "eu-west-1", "pass", "acme-data default encryption with aws:kms."),
		s3("acme-logs", "us-east-1", "fail", "acme-logs server side encryption disabled."),
		mfa("111111111111", "alice", "pass", "alice MFA enabled."),
		mfa("111111111111", "deploy-bot", "fail", "deploy-bot MFA not enabled."),
		mfa("111111111111", "carol", "info", "carol has no console password."),
		mfa("222222222222", "dave", "skip", "The credential report is still being generated."),
		fnd("steampipe:aws_compliance.control.guardduty_enabled", "GuardDuty should be enabled", map[string]any{
			"source": "steampipe", "check_id": "aws_compliance.control.guardduty_enabled",
			"title": "GuardDuty should be enabled", "status": "error", "severity": "medium",
			"message":     "operation error GuardDuty: ListDetectors, https response error StatusCode: 403, AccessDeniedException: User is not authorized to perform: guardduty:ListDetectors",
			"observed_at": testNow,
		}),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Import(powerpipe sample) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"pass": 2, "fail": 2, "info": 1, "skip": 1, "error": 1}, sum.Statuses); diff != "" {
		t.Errorf("Summary.Statuses mismatch (-want +got):\n%s", diff)
	}
}

func TestPowerpipeShapes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantIDs []string
	}{
		{"controls at the root", `{"group_id": "root_result_group", "controls": [{"control_id": "c", "results": [{"status": "ok", "resource": "r"}]}]}`, []string{"steampipe:c:r"}},
		{"keys in any order", `{"controls": null, "groups": [{"controls": [{"results": [{"resource": "r", "status": "alarm"}], "control_id": "c"}], "group_id": "g"}], "group_id": "root_result_group"}`, []string{"steampipe:c:r"}},
		{"no resource, dimensions", `{"group_id": "x", "controls": [{"control_id": "c", "results": [{"status": "ok", "dimensions": [{"key": "region", "value": "eu-west-1"}, {"key": "account_id", "value": "1"}]}]}]}`, []string{"steampipe:c:account_id=1,region=eu-west-1"}},
		{"ran with no rows", `{"group_id": "x", "controls": [{"control_id": "c", "results": null, "run_error": ""}]}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := importString(t, "powerpipe", tc.in)
			if err != nil {
				t.Fatalf("Import(%s) = %v", tc.in, err)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ExternalID)
			}
			if diff := cmp.Diff(tc.wantIDs, ids); diff != "" {
				t.Errorf("IDs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPowerpipeMalformed(t *testing.T) {
	control := func(c string) string {
		return "{\n\"group_id\": \"root_result_group\",\n\"groups\": [\n{\"group_id\": \"g\", \"controls\": [\n" + c + "\n]}]}"
	}
	checkMalformed(t, "powerpipe", []malformed{
		{"empty", "", "line 1: the file is empty; want the JSON of powerpipe benchmark run --output json"},
		{"a list", "[]", "line 1: a Powerpipe benchmark result is a JSON object with groups and controls, not a list"},
		{"another object", `{"SchemaVersion": 2}`, "line 1: not a Powerpipe benchmark result: the object has no group_id, groups or controls"},
		{"groups an object", "{\n\"groups\": {}}", "line 2, field groups: must be a list, not an object"},
		{"group a number", "{\"groups\": [\n1]}", "line 2, field groups: must be an object, not a number"},
		{"bad status", control(`{"control_id": "c", "results": [{"status": "ok", "resource": "a"},` + "\n" + `{"status": "warn", "resource": "b"}]}`),
			`line 5, field results[1].status: must be ok, alarm, info, skip or error, not "warn"`},
		{"bad severity", control(`{"control_id": "c", "severity": "urgent", "results": []}`), `line 5, field severity: must be critical, high, medium, low or none, not "urgent"`},
		{"no control id", control(`{"results": [{"status": "ok", "resource": "a"}]}`), "line 5, field control_id: is required"},
		{"no resource or dimensions", control(`{"control_id": "c", "results": [{"status": "ok"}]}`), "line 5, field results[0].resource: is required when a result has no dimensions"},
		{"results an object", control(`{"control_id": "c",` + "\n" + `"results": {}}`), "line 6, field results: must be a list, not an object"},
		{"missing colon", "{\"group_id\" \"x\"}", "line 1: invalid JSON: expected colon after object key"},
		{"missing comma", "{\"group_id\": \"x\"\n\"groups\": []}", `line 2: invalid JSON: invalid character '"' after object key:value pair`},
		{"truncated", "{\"group_id\": \"x\",\n\"groups\": [", "line 2: unexpected end of input"},
		{"too deep", strings.Repeat(`{"groups": [`, 70), "line 1, field groups: nest deeper than 64 levels"},
	})
}
