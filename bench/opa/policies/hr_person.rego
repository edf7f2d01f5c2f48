# Checks on hr.person resources, the same as the shipped CEL library's.
package evident.hr_person

import data.evident.lib
import rego.v1

# results maps each test that selects the resource to "pass" or "fail".
results[id] := "pass" if {
	some id in selected
	passes[id]
}

results[id] := "fail" if {
	some id in selected
	not passes[id]
}

left if input.end_date < lib.now - lib.days(3)

deprovisioned := {"DEPROVISIONED", "SUSPENDED"}

selected contains "hr-terminated-okta-deprovisioned" if left

passes contains "hr-terminated-okta-deprovisioned" if {
	every u in lib.related("okta.user", "email", input.email) {
		u.status in deprovisioned
	}
}

selected contains "hr-terminated-github-removed" if left

passes contains "hr-terminated-github-removed" if count(lib.related("github.member", "email", input.email)) == 0

google_off(u) if u.suspended

google_off(u) if u.archived

selected contains "hr-terminated-google-suspended" if left

passes contains "hr-terminated-google-suspended" if {
	every u in lib.related("google.user", "email", input.email) {
		google_off(u)
	}
}

active_key(u) if {
	some k in u.access_keys
	k.status == "Active"
}

no_credentials(u) if {
	not u.console_access
	not active_key(u)
}

selected contains "hr-terminated-aws-access-removed" if left

passes contains "hr-terminated-aws-access-removed" if {
	every u in lib.related("aws.iam.user", "email", input.email) {
		no_credentials(u)
	}
}
