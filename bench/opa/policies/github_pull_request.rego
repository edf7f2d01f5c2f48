# Checks on github.pull_request resources, the same as the shipped CEL library's.
package evident.github_pull_request

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

selected contains "github-pr-approved-by-other" if {
	input.merged_at
	input.base_branch == input.default_branch
}

passes contains "github-pr-approved-by-other" if {
	some r in input.reviews
	r.state == "APPROVED"
	r.reviewer != input.author
	r.submitted_at <= input.merged_at
}
