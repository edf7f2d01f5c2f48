# Checks on aws.kms.key resources, the same as the shipped CEL library's.
package evident.aws_kms_key

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

selected contains "aws-kms-key-rotation" if {
	input.customer_managed
	input.key_state == "Enabled"
	input.key_spec == "SYMMETRIC_DEFAULT"
}

passes contains "aws-kms-key-rotation" if input.rotation_enabled
