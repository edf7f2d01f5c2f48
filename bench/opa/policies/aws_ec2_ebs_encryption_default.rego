# Checks on aws.ec2.ebs_encryption_default resources, the same as the shipped CEL library's.
package evident.aws_ec2_ebs_encryption_default

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

selected contains "aws-ebs-default-encryption"

passes contains "aws-ebs-default-encryption" if input.enabled
