package monitor

// The registry of resource types. Connectors, importers and the push API produce exactly
// these attributes; tests are type-checked against them; the reference page is generated
// from them. Adding a field is compatible; renaming or removing one breaks users' tests.

func str(name, desc string) Field     { return Field{Name: name, Kind: KindString, Description: desc} }
func boolean(name, desc string) Field { return Field{Name: name, Kind: KindBool, Description: desc} }
func integer(name, desc string) Field { return Field{Name: name, Kind: KindInt, Description: desc} }
func ts(name, desc string) Field      { return Field{Name: name, Kind: KindTimestamp, Description: desc} }
func strs(name, desc string) Field    { return Field{Name: name, Kind: KindStringList, Description: desc} }
func tags(desc string) Field          { return Field{Name: "tags", Kind: KindStringMap, Description: desc} }
func obj(name, desc string, fields ...Field) Field {
	return Field{Name: name, Kind: KindObject, Description: desc, Fields: fields}
}
func objects(name, desc string, fields ...Field) Field {
	return Field{Name: name, Kind: KindObjectList, Description: desc, Fields: fields}
}

// optional marks a field that may be absent.
func optional(f Field) Field { f.Optional = true; return f }

var (
	awsAccount = str("account_id", "The 12-digit AWS account ID.")
	awsRegion  = str("region", "The AWS region, such as eu-west-1.")
	awsARN     = str("arn", "The resource's ARN.")
	awsTags    = tags("The resource's tags.")
)

func publicAccessBlock(name, desc string) Field {
	return obj(name, desc,
		boolean("block_public_acls", "BlockPublicAcls: new public ACLs are rejected."),
		boolean("ignore_public_acls", "IgnorePublicAcls: existing public ACLs are ignored."),
		boolean("block_public_policy", "BlockPublicPolicy: bucket policies granting public access are rejected."),
		boolean("restrict_public_buckets", "RestrictPublicBuckets: access through a public policy is limited to AWS services and the owner account."),
	)
}

func securityGroupRules(name, desc string) Field {
	return objects(name, desc,
		str("protocol", `"tcp", "udp", "icmp", "icmpv6", another protocol number, or "-1" for all protocols.`),
		integer("from_port", "First port of the range; 0 when the rule covers all ports or the protocol has none."),
		integer("to_port", "Last port of the range; 65535 when the rule covers all ports or the protocol has none."),
		optional(str("cidr", `The IPv4 or IPv6 range, such as "0.0.0.0/0" or "::/0"; one rule object per range. Absent for rules that name a security group or prefix list.`)),
		optional(str("source", "The security group ID or prefix list ID the rule names instead of a range.")),
		optional(str("description", "The rule's description.")),
	)
}

var registry = []TypeSchema{
	// ---- AWS -------------------------------------------------------------------------
	{
		Type: "aws.account", Source: "aws",
		Description: "An AWS account the connection scans, with the regions it covers.",
		ID:          "The account ID.",
		Fields: []Field{
			awsAccount,
			optional(str("alias", "The account alias.")),
			optional(str("organization_id", "The AWS Organizations ID, when the account belongs to one.")),
			strs("regions", "The regions the connection scans in this account (the enabled regions, unless limited in the connection)."),
			boolean("security_contact", "An alternate contact of type SECURITY is registered."),
		},
	},
	{
		Type: "aws.iam.user", Source: "aws",
		Description: "An IAM user, with its console password, MFA devices, access keys and policies (from ListUsers, the credential report, ListMFADevices, ListAccessKeys and the attached, inline and group policies).",
		ID:          "The user's ARN.",
		Fields: []Field{
			awsAccount, awsARN,
			optional(str("email", "The user's email address: the value of the email tag (any case), or the user name when it is an email address. Used to match the user with people in other sources.")),
			ts("created_at", "When the user was created."),
			boolean("console_access", "The user has a console password (a login profile)."),
			optional(ts("password_last_used", "The last console sign-in; absent when the password was never used.")),
			optional(ts("password_last_changed", "When the console password was last set.")),
			boolean("mfa_enabled", "At least one MFA device (virtual, hardware or FIDO security key) is enabled."),
			objects("mfa_devices", "The user's enabled MFA devices.",
				str("serial_number", "The device's serial number or ARN."),
				str("kind", `"virtual", "hardware" or "u2f".`),
				ts("enabled_at", "When the device was enabled."),
			),
			objects("access_keys", "The user's access keys, active and inactive.",
				str("id", "The access key ID (AKIA…)."),
				str("status", `"Active" or "Inactive".`),
				ts("created_at", "When the key was created."),
				optional(ts("last_used_at", "When the key was last used; absent when never used.")),
				optional(str("last_used_service", "The service the key was last used with.")),
			),
			strs("attached_policies", "ARNs of the managed policies attached directly to the user."),
			strs("inline_policies", "Names of the user's inline policies."),
			strs("groups", "Names of the groups the user belongs to."),
			boolean("is_admin", `The user can do everything ("Action": "*" on "Resource": "*", such as AdministratorAccess) through a direct, inline or group policy.`),
			awsTags,
		},
	},
	{
		Type: "aws.iam.root", Source: "aws",
		Description: "The root user of an AWS account (from the account summary and the credential report).",
		ID:          "The root user's ARN, arn:aws:iam::ACCOUNT:root.",
		Fields: []Field{
			awsAccount,
			boolean("mfa_enabled", "An MFA device is enabled for the root user."),
			boolean("hardware_mfa_enabled", "The root user's MFA is a hardware device or FIDO security key rather than a virtual one."),
			boolean("access_keys_present", "The root user has at least one access key."),
			optional(ts("password_last_used", "The root user's last console sign-in; absent when never used.")),
			optional(ts("access_key_last_used", "The last use of any root access key; absent when never used.")),
		},
	},
	{
		Type: "aws.iam.password_policy", Source: "aws",
		Description: "The IAM password policy of an account. An account without a custom policy is reported with present false and AWS's defaults.",
		ID:          "The account ID.",
		Fields: []Field{
			awsAccount,
			boolean("present", "The account has a custom password policy."),
			integer("minimum_length", "Minimum password length."),
			boolean("require_uppercase", "Passwords need an upper-case letter."),
			boolean("require_lowercase", "Passwords need a lower-case letter."),
			boolean("require_numbers", "Passwords need a digit."),
			boolean("require_symbols", "Passwords need a symbol."),
			integer("max_age_days", "Days before a password expires; 0 when passwords never expire."),
			integer("reuse_prevention", "Number of previous passwords that cannot be reused; 0 when not set."),
			boolean("allow_users_to_change", "Users may change their own password."),
			boolean("hard_expiry", "An expired password can only be reset by an administrator."),
		},
	},
	{
		Type: "aws.s3.account_public_access_block", Source: "aws",
		Description: "The account-level S3 Block Public Access settings, which apply to every bucket in the account. All four are false when the account has no configuration.",
		ID:          "The account ID.",
		Fields: []Field{
			awsAccount,
			boolean("block_public_acls", "BlockPublicAcls."),
			boolean("ignore_public_acls", "IgnorePublicAcls."),
			boolean("block_public_policy", "BlockPublicPolicy."),
			boolean("restrict_public_buckets", "RestrictPublicBuckets."),
		},
	},
	{
		Type: "aws.s3.bucket", Source: "aws",
		Description: "An S3 bucket with its encryption, public access settings, policy and versioning.",
		ID:          "The bucket's ARN, arn:aws:s3:::NAME.",
		Fields: []Field{
			awsAccount, awsARN, awsRegion,
			ts("created_at", "When the bucket was created."),
			boolean("encryption_enabled", "Default encryption is configured (SSE-S3, SSE-KMS or DSSE-KMS)."),
			optional(str("encryption_algorithm", `The default encryption algorithm: "AES256", "aws:kms" or "aws:kms:dsse".`)),
			optional(str("kms_key_id", "The KMS key of SSE-KMS default encryption.")),
			publicAccessBlock("public_access_block", "The bucket's own Block Public Access settings; all false when the bucket has none."),
			publicAccessBlock("account_public_access_block", "The account-level Block Public Access settings, repeated here so a test can judge the effective setting (account or bucket)."),
			boolean("public_policy", "The bucket policy grants public access (GetBucketPolicyStatus IsPublic)."),
			boolean("public_acl", "The bucket ACL grants access to AllUsers or AuthenticatedUsers."),
			boolean("tls_only_policy", `The bucket policy denies requests where aws:SecureTransport is "false".`),
			boolean("versioning_enabled", "Versioning is enabled (not suspended or never enabled)."),
			boolean("logging_enabled", "Server access logging is enabled."),
			awsTags,
		},
	},
	{
		Type: "aws.ec2.ebs_encryption_default", Source: "aws",
		Description: "Whether new EBS volumes are encrypted by default, one resource per account and region.",
		ID:          "ACCOUNT/REGION.",
		Fields: []Field{
			awsAccount, awsRegion,
			boolean("enabled", "EBS encryption by default is on in this region."),
			optional(str("kms_key_id", "The default KMS key for EBS encryption.")),
		},
	},
	{
		Type: "aws.ec2.volume", Source: "aws",
		Description: "An EBS volume.",
		ID:          "The volume ID (vol-…).",
		Fields: []Field{
			awsAccount, awsRegion,
			boolean("encrypted", "The volume is encrypted."),
			optional(str("kms_key_id", "The KMS key that encrypts the volume.")),
			str("state", `"creating", "available", "in-use", "deleting", "deleted" or "error".`),
			integer("size_gib", "Size in GiB."),
			str("volume_type", `Such as "gp3" or "io2".`),
			strs("attached_instances", "IDs of the instances the volume is attached to."),
			ts("created_at", "When the volume was created."),
			awsTags,
		},
	},
	{
		Type: "aws.ec2.security_group", Source: "aws",
		Description: "A VPC security group with its rules, one rule object per address range.",
		ID:          "The security group ID (sg-…).",
		Fields: []Field{
			awsAccount, awsRegion,
			optional(str("vpc_id", "The VPC the group belongs to.")),
			str("description", "The group's description."),
			boolean("is_default", "The group is its VPC's default security group."),
			boolean("in_use", "At least one network interface uses the group."),
			securityGroupRules("ingress", "Inbound rules."),
			securityGroupRules("egress", "Outbound rules."),
			awsTags,
		},
	},
	{
		Type: "aws.rds.instance", Source: "aws",
		Description: "An RDS database instance (including Aurora cluster members).",
		ID:          "The instance's ARN.",
		Fields: []Field{
			awsAccount, awsRegion, awsARN,
			str("engine", `Such as "postgres", "mysql" or "aurora-postgresql".`),
			str("engine_version", "The engine version."),
			str("instance_class", `Such as "db.r6g.large".`),
			boolean("storage_encrypted", "Storage is encrypted at rest."),
			optional(str("kms_key_id", "The KMS key that encrypts storage.")),
			boolean("publicly_accessible", "The instance has a public DNS name and accepts connections from outside its VPC."),
			integer("backup_retention_days", "Days automated backups are kept; 0 when automated backups are off. For Aurora members, the cluster's retention."),
			boolean("multi_az", "The instance (or its Aurora cluster) spans several availability zones."),
			boolean("deletion_protection", "The instance (or its cluster) cannot be deleted until protection is turned off."),
			boolean("auto_minor_version_upgrade", "Minor engine upgrades are applied automatically."),
			boolean("iam_database_authentication", "IAM database authentication is enabled."),
			optional(str("cluster_id", "The Aurora cluster the instance belongs to.")),
			awsTags,
		},
	},
	{
		Type: "aws.cloudtrail.trail", Source: "aws",
		Description: "A CloudTrail trail with its status (GetTrailStatus) and event selectors.",
		ID:          "The trail's ARN.",
		Fields: []Field{
			str("account_id", "The account the trail was found in. An organization trail seen from a member account is reported with the member account's ID, so it counts for that account."),
			awsARN,
			str("region", "The trail's home region."),
			boolean("multi_region", "The trail records events in every region."),
			boolean("organization_trail", "The trail records events for every account in the AWS organization."),
			boolean("logging", "The trail is logging now (IsLogging)."),
			boolean("log_file_validation", "Log file integrity validation is enabled."),
			boolean("management_events", "The trail records read and write management events."),
			optional(str("kms_key_id", "The KMS key that encrypts the log files.")),
			str("s3_bucket", "The bucket the trail delivers to."),
			optional(str("cloudwatch_log_group", "The CloudWatch Logs group the trail also delivers to.")),
			optional(ts("latest_delivery_at", "The last successful delivery of log files.")),
		},
	},
	{
		Type: "aws.kms.key", Source: "aws",
		Description: "A KMS key.",
		ID:          "The key's ARN.",
		Fields: []Field{
			awsAccount, awsRegion, awsARN,
			boolean("customer_managed", "The key is customer managed (not AWS managed or AWS owned)."),
			boolean("rotation_enabled", "Automatic key rotation is enabled."),
			optional(integer("rotation_period_days", "Days between automatic rotations, when rotation is enabled.")),
			str("key_state", `Such as "Enabled", "Disabled" or "PendingDeletion".`),
			str("key_spec", `Such as "SYMMETRIC_DEFAULT" or "RSA_2048". Only symmetric keys support automatic rotation.`),
			str("key_usage", `"ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC" or "KEY_AGREEMENT".`),
			ts("created_at", "When the key was created."),
		},
	},
	{
		Type: "aws.guardduty.detector", Source: "aws",
		Description: "GuardDuty in one account and region: one resource per scanned region, with enabled false where no detector exists.",
		ID:          "ACCOUNT/REGION.",
		Fields: []Field{
			awsAccount, awsRegion,
			boolean("enabled", "A detector exists and its status is ENABLED."),
			optional(str("detector_id", "The detector's ID, when one exists.")),
			optional(str("finding_publishing_frequency", `Such as "SIX_HOURS".`)),
		},
	},
	{
		Type: "aws.config.recorder", Source: "aws",
		Description: "AWS Config recording in one account and region: one resource per scanned region, with recording false where no recorder exists.",
		ID:          "ACCOUNT/REGION.",
		Fields: []Field{
			awsAccount, awsRegion,
			boolean("recording", "A configuration recorder exists and is recording."),
			boolean("all_supported", "The recorder records all supported resource types."),
			boolean("include_global_resources", "The recorder also records global resources such as IAM."),
			optional(str("last_status", `The last recording status: "SUCCESS", "FAILURE" or "PENDING".`)),
		},
	},

	// ---- GitHub ----------------------------------------------------------------------
	{
		Type: "github.org", Source: "github",
		Description: "A GitHub organization and its security settings.",
		ID:          "The organization's login.",
		Fields: []Field{
			str("login", "The organization's login."),
			boolean("two_factor_requirement_enabled", "Members, outside collaborators and billing managers must use two-factor authentication."),
			str("default_repository_permission", `Base permission of members on every repository: "none", "read", "write" or "admin".`),
			boolean("members_can_create_public_repositories", "Members may create public repositories."),
		},
	},
	{
		Type: "github.member", Source: "github",
		Description: "A member of a GitHub organization.",
		ID:          "ORG/LOGIN.",
		Fields: []Field{
			str("org", "The organization's login."),
			str("login", "The member's GitHub login."),
			optional(str("email", "The member's email address, from the SAML identity or a verified-domain email; absent when the organization does not know it.")),
			boolean("two_factor_enabled", "The member has two-factor authentication enabled."),
			str("role", `"admin" (organization owner) or "member".`),
		},
	},
	{
		Type: "github.outside_collaborator", Source: "github",
		Description: "Someone outside a GitHub organization with access to some of its repositories.",
		ID:          "ORG/LOGIN.",
		Fields: []Field{
			str("org", "The organization's login."),
			str("login", "The collaborator's GitHub login."),
			optional(str("email", "The collaborator's email address, when known.")),
			objects("repositories", "The repositories the collaborator can access.",
				str("repository", "The repository's full name, OWNER/NAME."),
				str("permission", `"read", "triage", "write", "maintain" or "admin".`),
			),
		},
	},
	{
		Type: "github.repository", Source: "github",
		Description: "A repository with the effective protection of its default branch, combining classic branch protection and active rulesets.",
		ID:          "The repository's full name, OWNER/NAME.",
		Fields: []Field{
			str("org", "The owning organization's login."),
			boolean("private", "The repository is not public."),
			str("visibility", `"public", "private" or "internal".`),
			boolean("archived", "The repository is archived (read-only)."),
			boolean("fork", "The repository is a fork."),
			str("default_branch", "The default branch's name."),
			optional(ts("pushed_at", "The last push.")),
			obj("protection", "The effective protection of the default branch: classic protection and active rulesets targeting it, the stricter of the two for each setting.",
				boolean("enabled", "Branch protection or an active ruleset applies to the default branch."),
				integer("required_approving_reviews", "Approving reviews required before merging; 0 when pull requests are not required."),
				boolean("dismiss_stale_reviews", "New commits dismiss approvals."),
				boolean("require_code_owner_reviews", "Code owners must approve changes to the files they own."),
				boolean("enforce_admins", "The rules apply to administrators too (no bypass actors in rulesets)."),
				boolean("allow_force_pushes", "Force pushes to the default branch are allowed."),
				boolean("allow_deletions", "The default branch may be deleted."),
				strs("required_status_checks", "Status checks that must pass before merging."),
				boolean("required_signatures", "Commits must be signed."),
			),
			objects("rulesets", "Rulesets defined on the repository or inherited from the organization.",
				str("name", "The ruleset's name."),
				str("enforcement", `"active", "evaluate" or "disabled".`),
				str("target", `"branch", "tag" or "push".`),
				boolean("includes_default_branch", "The ruleset targets the default branch."),
			),
			boolean("secret_scanning_enabled", "Secret scanning is enabled."),
			boolean("dependabot_alerts_enabled", "Dependabot vulnerability alerts are enabled."),
			strs("topics", "The repository's topics."),
		},
	},
	{
		Type: "github.pull_request", Source: "github",
		Description: "A merged pull request with its reviews: the change-management population.",
		ID:          "OWNER/NAME#NUMBER.",
		Fields: []Field{
			str("repository", "The repository's full name, OWNER/NAME."),
			integer("number", "The pull request number."),
			str("title", "The pull request title."),
			str("author", "The author's login."),
			str("base_branch", "The branch the pull request merged into."),
			str("default_branch", "The repository's default branch when the pull request was collected."),
			ts("created_at", "When the pull request was opened."),
			optional(ts("merged_at", "When it was merged; absent when it was closed without merging.")),
			optional(str("merged_by", "The login of whoever merged it.")),
			optional(str("merge_commit_sha", "The merge commit.")),
			objects("reviews", "Submitted reviews, in order.",
				str("reviewer", "The reviewer's login."),
				str("state", `"APPROVED", "CHANGES_REQUESTED", "COMMENTED" or "DISMISSED".`),
				ts("submitted_at", "When the review was submitted."),
			),
			strs("labels", "The pull request's labels."),
		},
	},

	// ---- Okta ------------------------------------------------------------------------
	{
		Type: "okta.user", Source: "okta",
		Description: "An Okta user with status, last sign-in, enrolled factors and admin roles.",
		ID:          "The Okta user ID (00u…).",
		Fields: []Field{
			str("login", "The Okta login."),
			str("email", "The primary email address."),
			str("status", `"STAGED", "PROVISIONED", "ACTIVE", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT", "SUSPENDED" or "DEPROVISIONED".`),
			ts("created_at", "When the user was created."),
			optional(ts("activated_at", "When the user was activated.")),
			optional(ts("last_login", "The last sign-in; absent when the user never signed in.")),
			optional(ts("password_changed_at", "When the password last changed.")),
			objects("factors", "Enrolled authentication factors.",
				str("type", `Such as "push", "token:software:totp", "webauthn", "signed_nonce", "token:hardware", "sms", "call", "email" or "question".`),
				str("provider", `Such as "OKTA", "GOOGLE" or "FIDO".`),
				str("status", `"ACTIVE", "PENDING_ACTIVATION", "NOT_SETUP", "INACTIVE" or "EXPIRED".`),
			),
			strs("admin_roles", `Administrator roles assigned to the user, such as "SUPER_ADMIN" or "ORG_ADMIN".`),
		},
	},
	{
		Type: "okta.policy", Source: "okta",
		Description: "An Okta sign-on, access or password policy, flattened: the fields of its kind are present, the others absent.",
		ID:          "The policy ID.",
		Fields: []Field{
			str("kind", `"OKTA_SIGN_ON", "ACCESS_POLICY" or "PASSWORD".`),
			str("status", `"ACTIVE" or "INACTIVE".`),
			integer("priority", "The policy's priority; 1 is evaluated first."),
			boolean("system", "The policy is Okta's default policy."),
			optional(boolean("mfa_required", "Sign-on and access policies: every active rule requires a second factor.")),
			optional(integer("session_lifetime_minutes", "Sign-on policies: the longest session any active rule allows; 0 when unlimited.")),
			optional(integer("session_idle_minutes", "Sign-on policies: the longest idle time any active rule allows.")),
			optional(integer("password_min_length", "Password policies: minimum length.")),
			optional(boolean("password_require_uppercase", "Password policies: an upper-case letter is required.")),
			optional(boolean("password_require_lowercase", "Password policies: a lower-case letter is required.")),
			optional(boolean("password_require_number", "Password policies: a digit is required.")),
			optional(boolean("password_require_symbol", "Password policies: a symbol is required.")),
			optional(integer("password_max_age_days", "Password policies: days before a password expires; 0 when never.")),
			optional(integer("password_history_count", "Password policies: previous passwords that cannot be reused.")),
			optional(integer("lockout_attempts", "Password policies: failed attempts before lockout; 0 when lockout is off.")),
		},
	},

	// ---- Google Workspace ------------------------------------------------------------
	{
		Type: "google.user", Source: "google",
		Description: "A Google Workspace user (Admin SDK Directory API).",
		ID:          "The Google user ID.",
		Fields: []Field{
			str("email", "The primary email address."),
			boolean("is_admin", "The user is a super administrator."),
			boolean("is_delegated_admin", "The user holds a delegated administrator role."),
			boolean("suspended", "The account is suspended."),
			boolean("archived", "The account is archived."),
			boolean("is_enrolled_in_2sv", "The user has enrolled in 2-step verification."),
			boolean("is_enforced_in_2sv", "2-step verification is enforced for the user."),
			ts("created_at", "When the account was created."),
			optional(ts("last_login", "The last sign-in; absent when the user never signed in.")),
			str("org_unit_path", `The user's organizational unit, such as "/Engineering".`),
		},
	},

	// ---- HR --------------------------------------------------------------------------
	{
		Type: "hr.person", Source: "hr",
		Description: "A person on the HR roster (an HR system or the roster CSV). The resource's name is the person's full name.",
		ID:          "The employee ID, or the email address when the roster has none.",
		Fields: []Field{
			str("email", "The work email address, used to match the person's accounts in other sources."),
			ts("start_date", "The first day of work."),
			optional(ts("end_date", "The last day of work; absent while employed.")),
			optional(str("manager", "The manager's work email address.")),
			optional(str("department", "The department.")),
			str("employment_type", `"full_time", "part_time", "contractor" or "intern" from the roster CSV; other HR sources may report "employee".`),
			optional(str("title", "The job title.")),
		},
	},

	// ---- Scanners and endpoints --------------------------------------------------------
	{
		Type: "finding", Source: "scanner",
		Description: "One result of a scanner or policy tool: Prowler (OCSF), Powerpipe/Steampipe, Trivy, osquery/Fleet, or pushed through the API.",
		ID:          "SOURCE:CHECK:RESOURCE, built by the importer.",
		Fields: []Field{
			str("source", `The tool: "prowler", "steampipe", "trivy", "osquery", "fleet" or a push client's name.`),
			str("check_id", "The tool's check, rule, policy or vulnerability ID."),
			str("title", "What the check looks for."),
			str("status", `"pass", "fail", "error", "skip" or "info".`),
			str("severity", `"critical", "high", "medium", "low" or "info".`),
			optional(str("resource_id", "What the finding is about: an ARN, an image, a host.")),
			optional(str("resource_type", "The tool's type for that resource.")),
			optional(str("account", "The cloud account, project or subscription.")),
			optional(str("region", "The region.")),
			optional(str("message", "The tool's explanation of this result.")),
			optional(str("remediation", "The tool's remediation advice.")),
			optional(str("package", "Vulnerabilities: the affected package.")),
			optional(str("installed_version", "Vulnerabilities: the installed version.")),
			optional(str("fixed_version", "Vulnerabilities: the first version with a fix; absent when none exists.")),
			optional(strs("compliance", `The frameworks and requirements the tool maps the check to, as "FRAMEWORK:REQUIREMENT" (such as "SOC2:cc_6_1" or "CIS-3.0:2.1.1"), sorted.`)),
			ts("observed_at", "When the tool produced the result."),
		},
	},
	{
		Type: "device", Source: "push",
		Description: "An employee's computer or phone, reported by MDM, osquery/Fleet or a push client.",
		ID:          "The device's serial number, or the reporting tool's host ID.",
		Fields: []Field{
			optional(str("serial_number", "The hardware serial number.")),
			optional(str("owner_email", "The work email address of the person who uses the device.")),
			str("platform", `"macos", "windows", "linux", "ios", "android" or "chromeos".`),
			str("os_version", "The operating system version."),
			boolean("managed", "The device is enrolled in device management."),
			boolean("disk_encrypted", "The system disk is encrypted (FileVault, BitLocker, LUKS, platform encryption)."),
			boolean("screen_lock_enabled", "A password is required after sleep or the screen saver."),
			optional(integer("screen_lock_minutes", "Idle minutes before the screen locks.")),
			optional(boolean("firewall_enabled", "The host firewall is on.")),
			optional(boolean("endpoint_protection", "An antivirus or EDR agent is running.")),
			ts("last_seen", "When the device last reported."),
		},
	},
}
