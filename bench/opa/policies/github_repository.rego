# Checks on github.repository resources, the same as the shipped CEL library's.
package evident.github_repository

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

active if not input.archived

protection := input.protection

selected contains "github-default-branch-reviews" if active

passes contains "github-default-branch-reviews" if {
	protection.enabled
	protection.required_approving_reviews >= 1
}

selected contains "github-default-branch-no-force-push" if active

passes contains "github-default-branch-no-force-push" if {
	protection.enabled
	not protection.allow_force_pushes
}

selected contains "github-default-branch-enforce-admins" if active

passes contains "github-default-branch-enforce-admins" if {
	protection.enabled
	protection.enforce_admins
}

selected contains "github-default-branch-dismiss-stale" if {
	active
	protection.required_approving_reviews > 0
}

passes contains "github-default-branch-dismiss-stale" if protection.dismiss_stale_reviews

selected contains "github-default-branch-status-checks" if active

passes contains "github-default-branch-status-checks" if {
	protection.enabled
	count(protection.required_status_checks) > 0
}

selected contains "github-repo-secret-scanning" if active

passes contains "github-repo-secret-scanning" if input.secret_scanning_enabled

selected contains "github-repo-dependabot-alerts" if active

passes contains "github-repo-dependabot-alerts" if input.dependabot_alerts_enabled
