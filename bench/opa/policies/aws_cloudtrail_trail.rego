# Checks on aws.cloudtrail.trail resources, the same as the shipped CEL library's.
package evident.aws_cloudtrail_trail

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

selected contains "aws-cloudtrail-logging"

passes contains "aws-cloudtrail-logging" if input.logging

selected contains "aws-cloudtrail-log-validation"

passes contains "aws-cloudtrail-log-validation" if input.log_file_validation

selected contains "aws-cloudtrail-encrypted"

passes contains "aws-cloudtrail-encrypted" if input.kms_key_id
