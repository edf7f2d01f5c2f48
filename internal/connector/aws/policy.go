package aws

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// policyDocument is an IAM or resource policy, with the fields the checks read.
type policyDocument struct {
	Statement statements `json:"Statement"`
}

// statement is one policy statement. Action, Resource and Principal take several shapes
// in the policy language; they are kept raw and read by the helpers below.
type statement struct {
	Effect    string                                `json:"Effect"`
	Action    json.RawMessage                       `json:"Action"`
	Resource  json.RawMessage                       `json:"Resource"`
	Principal json.RawMessage                       `json:"Principal"`
	Condition map[string]map[string]json.RawMessage `json:"Condition"`
}

// statements accepts a single statement object as well as a list.
type statements []statement

func (s *statements) UnmarshalJSON(b []byte) error {
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) > 0 && b[0] == '{' {
		var one statement
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = statements{one}
		return nil
	}
	var many []statement
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// parsePolicy parses a policy document. IAM returns documents URL-encoded (RFC 3986) in
// its query-protocol responses; S3 returns them as plain JSON. Both are accepted.
func parsePolicy(doc string) (policyDocument, error) {
	text := strings.TrimSpace(doc)
	if strings.HasPrefix(text, "%7B") || strings.HasPrefix(text, "%7b") {
		dec, err := url.QueryUnescape(text)
		if err != nil {
			return policyDocument{}, fmt.Errorf("policy document: %w", err)
		}
		text = dec
	}
	var p policyDocument
	if err := json.Unmarshal([]byte(text), &p); err != nil {
		return policyDocument{}, fmt.Errorf("policy document: %w", err)
	}
	return p, nil
}

// stringList reads a policy element that is a string or a list of strings.
func stringList(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err == nil {
		return many
	}
	return nil
}

func containsFold(list []string, want ...string) bool {
	for _, v := range list {
		for _, w := range want {
			if strings.EqualFold(strings.TrimSpace(v), w) {
				return true
			}
		}
	}
	return false
}

// grantsEverything reports whether a policy allows every action on every resource
// ("Action": "*", "Resource": "*"), as AdministratorAccess does. Conditions are not
// weighed: a conditional grant of everything is still an administrator's policy.
func grantsEverything(p policyDocument) bool {
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			continue
		}
		if containsFold(stringList(s.Action), "*", "*:*") && containsFold(stringList(s.Resource), "*") {
			return true
		}
	}
	return false
}

// administratorAccess reports whether a managed policy ARN is AWS's AdministratorAccess
// policy, in any partition.
func administratorAccess(arn string) bool {
	return strings.HasPrefix(arn, "arn:aws") && strings.HasSuffix(arn, ":iam::aws:policy/AdministratorAccess")
}

// deniesInsecureTransport reports whether a bucket policy denies every request made
// without TLS: a Deny statement for everyone, covering all S3 actions, conditioned on
// aws:SecureTransport being false.
func deniesInsecureTransport(p policyDocument) bool {
	for _, s := range p.Statement {
		if s.Effect != "Deny" || !everyone(s.Principal) {
			continue
		}
		if !containsFold(stringList(s.Action), "s3:*", "*") {
			continue
		}
		for op, keys := range s.Condition {
			if !strings.EqualFold(op, "Bool") && !strings.EqualFold(op, "BoolIfExists") {
				continue
			}
			for key, val := range keys {
				if strings.EqualFold(key, "aws:SecureTransport") && conditionIsFalse(val) {
					return true
				}
			}
		}
	}
	return false
}

// everyone reports whether a principal is "*" or {"AWS": "*"}.
func everyone(raw json.RawMessage) bool {
	if containsFold(stringList(raw), "*") {
		return true
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return false
	}
	for k, v := range m {
		if strings.EqualFold(k, "AWS") && containsFold(stringList(v), "*") {
			return true
		}
	}
	return false
}

// conditionIsFalse reports whether a condition value is false: "false", false or a list
// holding only those.
func conditionIsFalse(raw json.RawMessage) bool {
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return !b
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err == nil {
		if len(list) == 0 {
			return false
		}
		for _, v := range list {
			if !conditionIsFalse(v) {
				return false
			}
		}
		return true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return strings.EqualFold(strings.TrimSpace(s), "false")
	}
	return false
}
