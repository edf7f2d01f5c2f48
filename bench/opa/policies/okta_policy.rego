# Checks on okta.policy resources, the same as the shipped CEL library's.
package evident.okta_policy

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

selected contains "okta-policy-mfa-required" if {
	input.kind in {"OKTA_SIGN_ON", "ACCESS_POLICY"}
	input.status == "ACTIVE"
}

passes contains "okta-policy-mfa-required" if input.mfa_required

sign_on if {
	input.kind == "OKTA_SIGN_ON"
	input.status == "ACTIVE"
}

password if {
	input.kind == "PASSWORD"
	input.status == "ACTIVE"
}

selected contains "okta-session-limits" if sign_on

passes contains "okta-session-limits" if {
	input.session_idle_minutes <= 120
	input.session_lifetime_minutes > 0
	input.session_lifetime_minutes <= 1440
}

selected contains "okta-password-policy-length" if password

passes contains "okta-password-policy-length" if input.password_min_length >= 12

selected contains "okta-password-lockout" if password

passes contains "okta-password-lockout" if {
	input.lockout_attempts > 0
	input.lockout_attempts <= 10
}
