# Checks on github.outside_collaborator resources, the same as the shipped CEL library's.
package evident.github_outside_collaborator

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

selected contains "github-outside-collaborator-no-admin"

administers if {
	some r in input.repositories
	r.permission == "admin"
}

passes contains "github-outside-collaborator-no-admin" if not administers
