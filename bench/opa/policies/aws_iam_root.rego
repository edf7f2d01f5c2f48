# Checks on aws.iam.root resources, the same as the shipped CEL library's.
package evident.aws_iam_root

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

selected contains "aws-iam-root-mfa"

passes contains "aws-iam-root-mfa" if input.mfa_enabled

selected contains "aws-iam-root-hardware-mfa" if input.mfa_enabled

passes contains "aws-iam-root-hardware-mfa" if input.hardware_mfa_enabled

selected contains "aws-iam-root-no-access-keys"

passes contains "aws-iam-root-no-access-keys" if not input.access_keys_present

password_unused if not input.password_last_used

password_unused if input.password_last_used < lib.now - lib.days(30)

key_unused if not input.access_key_last_used

key_unused if input.access_key_last_used < lib.now - lib.days(30)

selected contains "aws-iam-root-not-used"

passes contains "aws-iam-root-not-used" if {
	password_unused
	key_unused
}
