package importer

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/monitor"
)

func TestTrivySample(t *testing.T) {
	got, _ := importFile(t, "trivy", "trivy.json")
	at := time.Date(2026, 5, 31, 7, 15, 2, 412933000, time.UTC)
	const image = "registry.acme.example/api:1.42.0"
	const osTarget = image + " (alpine 3.19.1)"
	want := []monitor.Resource{
		fnd("trivy:CVE-2024-2511:"+osTarget+":libssl3@3.1.4-r5", "CVE-2024-2511 in libssl3", map[string]any{
			"source": "trivy", "check_id": "CVE-2024-2511", "title": "openssl: Unbounded memory growth with session handling in TLSv1.3",
			"status": "fail", "severity": "high", "resource_id": image, "resource_type": "container_image",
			"package": "libssl3", "installed_version": "3.1.4-r5", "fixed_version": "3.1.4-r6",
			"message":     "libssl3 3.1.4-r5 in " + osTarget + ". Fixed in 3.1.4-r6.",
			"remediation": "Upgrade libssl3 to 3.1.4-r6 or later. See https://avd.aquasec.com/nvd/cve-2024-2511.",
			"observed_at": at,
		}),
		fnd("trivy:CVE-2023-42363:"+osTarget+":busybox@1.36.1-r15", "CVE-2023-42363 in busybox", map[string]any{
			"source": "trivy", "check_id": "CVE-2023-42363", "title": "busybox: use-after-free in awk",
			"status": "fail", "severity": "medium", "resource_id": image, "resource_type": "container_image",
			"package": "busybox", "installed_version": "1.36.1-r15",
			"message":     "busybox 1.36.1-r15 in " + osTarget + ". No fix is available yet.",
			"remediation": "No fixed version exists yet: mitigate, remove the package, or accept the risk with an expiry. See https://avd.aquasec.com/nvd/cve-2023-42363.",
			"observed_at": at,
		}),
		fnd("trivy:CVE-2023-45288:"+image+":usr/local/bin/api:golang.org/x/net@v0.19.0", "CVE-2023-45288 in golang.org/x/net", map[string]any{
			"source": "trivy", "check_id": "CVE-2023-45288", "title": "golang: net/http, x/net/http2: unlimited number of CONTINUATION frames causes DoS",
			"status": "fail", "severity": "medium", "resource_id": image, "resource_type": "container_image",
			"package": "golang.org/x/net", "installed_version": "v0.19.0", "fixed_version": "0.23.0",
			"message":     "golang.org/x/net v0.19.0 in usr/local/bin/api. Fixed in 0.23.0.",
			"remediation": "Upgrade golang.org/x/net to 0.23.0 or later. See https://avd.aquasec.com/nvd/cve-2023-45288.",
			"observed_at": at,
		}),
		fnd("trivy:AVD-DS-0026:"+image+":Dockerfile", "No HEALTHCHECK defined", map[string]any{
			"source": "trivy", "check_id": "AVD-DS-0026", "title": "No HEALTHCHECK defined",
			"status": "fail", "severity": "low", "resource_id": "Dockerfile", "resource_type": "Dockerfile Security Check",
			"message":     "Add HEALTHCHECK instruction in your Dockerfile",
			"remediation": "Add HEALTHCHECK instruction in Dockerfile. See https://avd.aquasec.com/misconfig/ds026.",
			"observed_at": at,
		}),
		fnd("trivy:AVD-DS-0002:"+image+":Dockerfile:line 12", "Image user should not be 'root' (line 12)", map[string]any{
			"source": "trivy", "check_id": "AVD-DS-0002", "title": "Image user should not be 'root'",
			"status": "pass", "severity": "high", "resource_id": "Dockerfile", "resource_type": "Dockerfile Security Check",
			"message":     "Specify at least 1 USER command in Dockerfile with non-root user as argument",
			"remediation": "Add 'USER <non root user name>' line to the Dockerfile. See https://avd.aquasec.com/misconfig/ds002.",
			"observed_at": at,
		}),
		fnd("trivy:aws-access-key-id:"+image+":/app/config/.env:3", "AWS Access Key ID in /app/config/.env line 3", map[string]any{
			"source": "trivy", "check_id": "aws-access-key-id", "title": "AWS Access Key ID",
			"status": "fail", "severity": "critical", "resource_id": "/app/config/.env", "resource_type": "secret",
			"message":     "A secret (AWS) is stored in /app/config/.env line 3.",
			"remediation": "Revoke and rotate the secret, then remove it from the file and its history.",
			"observed_at": at,
		}),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Import(trivy sample) mismatch (-want +got):\n%s", diff)
	}
}

func TestTrivyShapes(t *testing.T) {
	tests := []struct {
		name, in string
		attr     string
		want     any
	}{
		{"no CreatedAt", `{"SchemaVersion": 2, "ArtifactName": ".", "ArtifactType": "filesystem", "Results": [{"Target": "go.sum", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "x", "Severity": "LOW"}]}]}`, "observed_at", testNow},
		{"not affected", `{"SchemaVersion": 2, "ArtifactName": ".", "Results": [{"Target": "go.sum", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "x", "Status": "not_affected", "Severity": "LOW"}]}]}`, "status", "pass"},
		{"exception", `{"SchemaVersion": 2, "ArtifactName": ".", "Results": [{"Target": "main.tf", "Misconfigurations": [{"AVDID": "AVD-AWS-0086", "Status": "EXCEPTION", "Severity": "HIGH", "CauseMetadata": {"Resource": "aws_s3_bucket.logs"}}]}]}`, "status", "skip"},
		{"unknown severity", `{"SchemaVersion": 2, "ArtifactName": ".", "Results": [{"Target": "t", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "Severity": "UNKNOWN"}]}]}`, "severity", "info"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := importString(t, "trivy", tc.in)
			if err != nil {
				t.Fatalf("Import(%s) = %v", tc.in, err)
			}
			if len(got) != 1 {
				t.Fatalf("Import(%s) emitted %d resources; want 1", tc.in, len(got))
			}
			if diff := cmp.Diff(tc.want, got[0].Attributes[tc.attr]); diff != "" {
				t.Errorf("attribute %s mismatch (-want +got):\n%s", tc.attr, diff)
			}
		})
	}
	got, _, err := importString(t, "trivy", `{"SchemaVersion": 2, "ArtifactName": "alpine:3.19", "ArtifactType": "container_image", "Metadata": {"OS": {"Family": "alpine"}}}`)
	if err != nil || len(got) != 0 {
		t.Errorf("Import(clean report) = %d resources, %v; want none and no error", len(got), err)
	}
}

func TestTrivyMalformed(t *testing.T) {
	checkMalformed(t, "trivy", []malformed{
		{"empty", "", "line 1: the file is empty; want a Trivy JSON report (trivy … --format json)"},
		{"a list", "[]", "line 1: a Trivy report is a JSON object with SchemaVersion, ArtifactName and Results, not a list"},
		{"another object", `{"group_id": "root_result_group"}`, "line 1: not a Trivy report: the object has no SchemaVersion or ArtifactName"},
		{"schema version a string", `{"SchemaVersion": "2"}`, "line 1, field SchemaVersion: must be an integer, not a string"},
		{"old schema", "{\n\"SchemaVersion\": 1}", "line 2, field SchemaVersion: must be 2 (Trivy 0.20 and later), not 1"},
		{"results first", "{\"Results\": []}", "line 1, field Results: comes before SchemaVersion and ArtifactName; is this a Trivy JSON report?"},
		{"bad CreatedAt", "{\"SchemaVersion\": 2,\n\"CreatedAt\": \"yesterday\"}", `line 2, field CreatedAt: must be an ISO 8601 timestamp such as 2026-03-31T12:00:00Z, not "yesterday"`},
		{"no vulnerability ID", "{\"SchemaVersion\": 2, \"ArtifactName\": \"x\", \"Results\": [\n{\"Target\": \"t\"},\n{\"Target\": \"u\", \"Vulnerabilities\": [{\"Severity\": \"HIGH\"}]}]}",
			"line 3, field Vulnerabilities[0].VulnerabilityID: is required"},
		{"bad severity", "{\"SchemaVersion\": 2, \"ArtifactName\": \"x\", \"Results\": [\n{\"Target\": \"t\", \"Vulnerabilities\": [{\"VulnerabilityID\": \"CVE-1\", \"Severity\": \"SEVERE\"}]}]}",
			`line 2, field Vulnerabilities[0].Severity: must be CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN, not "SEVERE"`},
		{"bad misconfiguration status", "{\"SchemaVersion\": 2, \"ArtifactName\": \"x\", \"Results\": [\n{\"Target\": \"t\", \"Misconfigurations\": [{\"ID\": \"DS1\", \"Status\": \"WARN\"}]}]}",
			`line 2, field Misconfigurations[0].Status: must be PASS, FAIL or EXCEPTION, not "WARN"`},
		{"no secret rule", "{\"SchemaVersion\": 2, \"ArtifactName\": \"x\", \"Results\": [\n{\"Target\": \"t\", \"Secrets\": [{\"Title\": \"key\"}]}]}",
			"line 2, field Secrets[0].RuleID: is required"},
		{"wrong type", "{\"SchemaVersion\": 2, \"ArtifactName\": \"x\", \"Results\": [\n{\"Target\": \"t\",\n\"Vulnerabilities\": [{\"VulnerabilityID\": 7}]}]}",
			"line 3, field Vulnerabilities.VulnerabilityID: must be a string, not a number"},
		{"results not a list", "{\"SchemaVersion\": 2, \"ArtifactName\": \"x\", \"Results\": {}}", "line 1, field Results: must be a list, not an object"},
	})
}
