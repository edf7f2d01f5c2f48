# Checks on aws.guardduty.detector resources, the same as the shipped CEL library's.
package evident.aws_guardduty_detector

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

selected contains "aws-guardduty-enabled"

passes contains "aws-guardduty-enabled" if input.enabled
