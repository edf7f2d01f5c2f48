# Checks on aws.ec2.volume resources, the same as the shipped CEL library's.
package evident.aws_ec2_volume

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

selected contains "aws-ebs-volume-encrypted" if not input.state in {"deleting", "deleted"}

passes contains "aws-ebs-volume-encrypted" if input.encrypted
