# Checks on google.user resources, the same as the shipped CEL library's.
package evident.google_user

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

active if {
	not input.suspended
	not input.archived
}

selected contains "google-user-2sv-enrolled" if active

passes contains "google-user-2sv-enrolled" if input.is_enrolled_in_2sv

selected contains "google-user-2sv-enforced" if active

passes contains "google-user-2sv-enforced" if input.is_enforced_in_2sv

last_login := input.last_login

last_login := input.created_at if not input.last_login

selected contains "google-user-inactive-suspended" if active

passes contains "google-user-inactive-suspended" if last_login >= lib.now - lib.days(90)

current(p) if not p.end_date

current(p) if p.end_date >= lib.now - lib.days(3)

selected contains "google-user-on-roster" if active

passes contains "google-user-on-roster" if {
	some p in lib.related("hr.person", "email", input.email)
	current(p)
}
