# Checks on github.org resources, the same as the shipped CEL library's.
package evident.github_org

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

selected contains "github-org-2fa-required"

passes contains "github-org-2fa-required" if input.two_factor_requirement_enabled

selected contains "github-org-base-permission"

passes contains "github-org-base-permission" if input.default_repository_permission in {"none", "read"}
