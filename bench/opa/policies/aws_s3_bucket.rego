# Checks on aws.s3.bucket resources, the same as the shipped CEL library's.
package evident.aws_s3_bucket

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

settings := ["block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"]

blocked(setting) if input.public_access_block[setting]

blocked(setting) if input.account_public_access_block[setting]

selected contains "aws-s3-bucket-public-access-blocked"

passes contains "aws-s3-bucket-public-access-blocked" if {
	every s in settings {
		blocked(s)
	}
}

selected contains "aws-s3-bucket-not-public"

passes contains "aws-s3-bucket-not-public" if {
	not input.public_policy
	not input.public_acl
}

selected contains "aws-s3-bucket-encryption"

passes contains "aws-s3-bucket-encryption" if input.encryption_enabled

selected contains "aws-s3-bucket-tls-only"

passes contains "aws-s3-bucket-tls-only" if input.tls_only_policy

selected contains "aws-s3-bucket-versioning"

passes contains "aws-s3-bucket-versioning" if input.versioning_enabled

selected contains "aws-s3-bucket-access-logging"

passes contains "aws-s3-bucket-access-logging" if input.logging_enabled
