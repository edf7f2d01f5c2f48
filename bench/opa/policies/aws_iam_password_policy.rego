# Checks on aws.iam.password_policy resources, the same as the shipped CEL library's.
package evident.aws_iam_password_policy

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

selected contains "aws-iam-password-policy-length"

passes contains "aws-iam-password-policy-length" if {
	input.present
	input.minimum_length >= 12
}

selected contains "aws-iam-password-policy-reuse"

passes contains "aws-iam-password-policy-reuse" if {
	input.present
	input.reuse_prevention >= 24
}
