# Checks on aws.iam.user resources, the same as the shipped CEL library's.
package evident.aws_iam_user

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

selected contains "aws-iam-user-console-mfa" if input.console_access

passes contains "aws-iam-user-console-mfa" if input.mfa_enabled

key_rotated(k) if k.status != "Active"

key_rotated(k) if lib.now - k.created_at <= lib.days(90)

selected contains "aws-iam-access-keys-rotated"

passes contains "aws-iam-access-keys-rotated" if {
	every k in input.access_keys {
		key_rotated(k)
	}
}

key_last_used(k) := k.last_used_at

key_last_used(k) := k.created_at if not k.last_used_at

key_in_use(k) if k.status != "Active"

key_in_use(k) if key_last_used(k) >= lib.now - lib.days(90)

selected contains "aws-iam-access-keys-unused-disabled"

passes contains "aws-iam-access-keys-unused-disabled" if {
	every k in input.access_keys {
		key_in_use(k)
	}
}

password_last := input.password_last_used

password_last := input.password_last_changed if not input.password_last_used

password_last := input.created_at if {
	not input.password_last_used
	not input.password_last_changed
}

selected contains "aws-iam-console-password-unused-disabled" if input.console_access

passes contains "aws-iam-console-password-unused-disabled" if password_last >= lib.now - lib.days(90)

selected contains "aws-iam-user-single-active-key"

passes contains "aws-iam-user-single-active-key" if {
	count([k | some k in input.access_keys; k.status == "Active"]) <= 1
}

admin_policies := {
	"arn:aws:iam::aws:policy/AdministratorAccess",
	"arn:aws:iam::aws:policy/IAMFullAccess",
}

any_admin_policy if {
	some p in input.attached_policies
	p in admin_policies
}

selected contains "aws-iam-user-no-admin-policy"

passes contains "aws-iam-user-no-admin-policy" if not any_admin_policy

selected contains "aws-iam-user-permissions-via-groups"

passes contains "aws-iam-user-permissions-via-groups" if {
	count(input.attached_policies) == 0
	count(input.inline_policies) == 0
}
