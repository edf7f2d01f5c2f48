# Checks on aws.rds.instance resources, the same as the shipped CEL library's.
package evident.aws_rds_instance

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

selected contains "aws-rds-storage-encrypted"

passes contains "aws-rds-storage-encrypted" if input.storage_encrypted

selected contains "aws-rds-not-public"

passes contains "aws-rds-not-public" if not input.publicly_accessible

selected contains "aws-rds-backup-retention"

passes contains "aws-rds-backup-retention" if input.backup_retention_days >= 7

selected contains "aws-rds-multi-az"

passes contains "aws-rds-multi-az" if input.multi_az

selected contains "aws-rds-deletion-protection"

passes contains "aws-rds-deletion-protection" if input.deletion_protection
