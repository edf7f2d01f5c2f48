# Checks on okta.user resources, the same as the shipped CEL library's.
package evident.okta_user

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

signs_in := {"ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY"}

weak_factors := {"email", "question"}

phishing_resistant := {"webauthn", "signed_nonce", "u2f"}

selected contains "okta-user-mfa" if input.status in signs_in

passes contains "okta-user-mfa" if {
	some f in input.factors
	f.status == "ACTIVE"
	not f.type in weak_factors
}

selected contains "okta-admin-phishing-resistant" if {
	input.status == "ACTIVE"
	count(input.admin_roles) > 0
}

passes contains "okta-admin-phishing-resistant" if {
	some f in input.factors
	f.status == "ACTIVE"
	f.type in phishing_resistant
}

last_login := input.last_login

last_login := input.created_at if not input.last_login

selected contains "okta-user-inactive-suspended" if input.status == "ACTIVE"

passes contains "okta-user-inactive-suspended" if last_login >= lib.now - lib.days(90)

current(p) if not p.end_date

current(p) if p.end_date >= lib.now - lib.days(3)

selected contains "okta-user-on-roster" if input.status == "ACTIVE"

passes contains "okta-user-on-roster" if {
	some p in lib.related("hr.person", "email", input.email)
	current(p)
}
