# Checks on github.member resources, the same as the shipped CEL library's.
package evident.github_member

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

selected contains "github-member-2fa"

passes contains "github-member-2fa" if input.two_factor_enabled
