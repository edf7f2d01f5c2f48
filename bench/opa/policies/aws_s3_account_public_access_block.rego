# Checks on aws.s3.account_public_access_block resources, the same as the shipped CEL library's.
package evident.aws_s3_account_public_access_block

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

selected contains "aws-s3-account-public-access-block"

passes contains "aws-s3-account-public-access-block" if {
	input.block_public_acls
	input.ignore_public_acls
	input.block_public_policy
	input.restrict_public_buckets
}
