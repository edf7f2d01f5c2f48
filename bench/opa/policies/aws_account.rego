# Checks on aws.account resources, the same as the shipped CEL library's.
package evident.aws_account

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

selected contains "aws-account-cloudtrail-multi-region"

passes contains "aws-account-cloudtrail-multi-region" if {
	some t in lib.related("aws.cloudtrail.trail", "account_id", input.account_id)
	t.multi_region
	t.logging
	t.management_events
}
