package aws

import (
	"context"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/account"
	accounttypes "github.com/aws/aws-sdk-go-v2/service/account/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
)

// Resource types this connector produces.
const (
	typeAccount          = "aws.account"
	typeUser             = "aws.iam.user"
	typeRoot             = "aws.iam.root"
	typePasswordPolicy   = "aws.iam.password_policy"
	typeAccountPAB       = "aws.s3.account_public_access_block"
	typeBucket           = "aws.s3.bucket"
	typeEBSDefault       = "aws.ec2.ebs_encryption_default"
	typeVolume           = "aws.ec2.volume"
	typeSecurityGroup    = "aws.ec2.security_group"
	typeDBInstance       = "aws.rds.instance"
	typeTrail            = "aws.cloudtrail.trail"
	typeKey              = "aws.kms.key"
	typeDetector         = "aws.guardduty.detector"
	typeConfigRecorder   = "aws.config.recorder"
	noSuchEntity         = "NoSuchEntity"
	orgNotInUse          = "AWSOrganizationsNotInUseException"
	resourceNotFound     = "ResourceNotFoundException"
	defaultMinimumLength = 8 // IAM's default password policy
)

// ResourceTypes lists the resource types the AWS connector produces.
func ResourceTypes() []string {
	return []string{
		typeAccount, typeUser, typeRoot, typePasswordPolicy, typeAccountPAB, typeBucket,
		typeEBSDefault, typeVolume, typeSecurityGroup, typeDBInstance, typeTrail, typeKey,
		typeDetector, typeConfigRecorder,
	}
}

// collectAccount reports the account: its alias, organization and security contact.
func (r *run) collectAccount(ctx context.Context) error {
	attrs := map[string]any{
		"account_id": r.account,
		"regions":    append([]string(nil), r.regions...),
	}
	name := r.account

	aliases := iam.NewListAccountAliasesPaginator(r.iamClient(), &iam.ListAccountAliasesInput{})
	for aliases.HasMorePages() {
		page, err := aliases.NextPage(ctx)
		if err != nil {
			if err := r.fail(ctx, typeAccount, "account alias", err); err != nil {
				return err
			}
			break
		}
		if len(page.AccountAliases) > 0 && attrs["alias"] == nil {
			attrs["alias"] = page.AccountAliases[0]
			name = page.AccountAliases[0]
		}
	}

	org, err := r.organizationsClient().DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	switch {
	case err == nil:
		if org.Organization != nil && sdkaws.ToString(org.Organization.Id) != "" {
			attrs["organization_id"] = sdkaws.ToString(org.Organization.Id)
		}
	case isCode(err, orgNotInUse):
	default:
		// The organization is optional: report why it is missing and keep the account.
		if err := r.fail(ctx, typeAccount, "organization", err); err != nil {
			return err
		}
	}

	_, err = r.accountClient().GetAlternateContact(ctx, &account.GetAlternateContactInput{
		AlternateContactType: accounttypes.AlternateContactTypeSecurity,
	})
	switch {
	case err == nil:
		attrs["security_contact"] = true
	case isCode(err, resourceNotFound):
		attrs["security_contact"] = false
	default:
		return r.fail(ctx, typeAccount, "security contact", err)
	}
	r.add(typeAccount, r.account, name, attrs)
	return nil
}

// collectIAM reports the users, the root user and the password policy.
func (r *run) collectIAM(ctx context.Context) error {
	client := r.iamClient()
	report, reportErr := r.fetchCredentialReport(ctx, client)
	if reportErr != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("aws: %w", err)
		}
		// Users still come from the list APIs; only the report's dates are missing.
		r.out.Fail(typeUser, reportErr)
		report = credentialReport{}
	}
	if err := r.collectUsers(ctx, client, report); err != nil {
		return err
	}
	if err := r.collectRoot(ctx, client, report, reportErr); err != nil {
		return err
	}
	return r.collectPasswordPolicy(ctx, client)
}

// authorization is what GetAccountAuthorizationDetails says about users and groups.
type authorization struct {
	users    map[string]iamtypes.UserDetail          // by user name
	groups   map[string]iamtypes.GroupDetail         // by group name
	policies map[string]iamtypes.ManagedPolicyDetail // customer managed, by ARN
}

func (r *run) authorizationDetails(ctx context.Context, client *iam.Client) (*authorization, error) {
	a := &authorization{
		users:    map[string]iamtypes.UserDetail{},
		groups:   map[string]iamtypes.GroupDetail{},
		policies: map[string]iamtypes.ManagedPolicyDetail{},
	}
	p := iam.NewGetAccountAuthorizationDetailsPaginator(client, &iam.GetAccountAuthorizationDetailsInput{
		Filter: []iamtypes.EntityType{iamtypes.EntityTypeUser, iamtypes.EntityTypeGroup, iamtypes.EntityTypeLocalManagedPolicy},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, u := range page.UserDetailList {
			a.users[sdkaws.ToString(u.UserName)] = u
		}
		for _, g := range page.GroupDetailList {
			a.groups[sdkaws.ToString(g.GroupName)] = g
		}
		for _, pol := range page.Policies {
			a.policies[sdkaws.ToString(pol.Arn)] = pol
		}
	}
	return a, nil
}

// managedIsAdmin reports whether an attached managed policy grants everything.
func (a *authorization) managedIsAdmin(arn string) bool {
	if administratorAccess(arn) {
		return true
	}
	pol, ok := a.policies[arn]
	if !ok {
		return false
	}
	for _, v := range pol.PolicyVersionList {
		if !v.IsDefaultVersion {
			continue
		}
		if doc, err := parsePolicy(sdkaws.ToString(v.Document)); err == nil && grantsEverything(doc) {
			return true
		}
	}
	return false
}

func inlineIsAdmin(policies []iamtypes.PolicyDetail) bool {
	for _, p := range policies {
		if doc, err := parsePolicy(sdkaws.ToString(p.PolicyDocument)); err == nil && grantsEverything(doc) {
			return true
		}
	}
	return false
}

// isAdmin reports whether a user can do everything through a direct, inline or group
// policy.
func (a *authorization) isAdmin(u iamtypes.UserDetail) bool {
	for _, p := range u.AttachedManagedPolicies {
		if a.managedIsAdmin(sdkaws.ToString(p.PolicyArn)) {
			return true
		}
	}
	if inlineIsAdmin(u.UserPolicyList) {
		return true
	}
	for _, name := range u.GroupList {
		g, ok := a.groups[name]
		if !ok {
			continue
		}
		for _, p := range g.AttachedManagedPolicies {
			if a.managedIsAdmin(sdkaws.ToString(p.PolicyArn)) {
				return true
			}
		}
		if inlineIsAdmin(g.GroupPolicyList) {
			return true
		}
	}
	return false
}

func (r *run) collectUsers(ctx context.Context, client *iam.Client, report credentialReport) error {
	var users []iamtypes.User
	list := iam.NewListUsersPaginator(client, &iam.ListUsersInput{})
	for list.HasMorePages() {
		page, err := list.NextPage(ctx)
		if err != nil {
			return r.fail(ctx, typeUser, "", err)
		}
		users = append(users, page.Users...)
	}
	if len(users) == 0 {
		return nil
	}
	auth, err := r.authorizationDetails(ctx, client)
	if err != nil {
		return r.fail(ctx, typeUser, "", err)
	}
	for _, u := range users {
		attrs, err := r.user(ctx, client, u, auth, report)
		if err != nil {
			if err := r.fail(ctx, typeUser, "user "+sdkaws.ToString(u.UserName), err); err != nil {
				return err
			}
			continue
		}
		r.add(typeUser, sdkaws.ToString(u.Arn), sdkaws.ToString(u.UserName), attrs)
	}
	return nil
}

// user gathers one user's attributes.
func (r *run) user(ctx context.Context, client *iam.Client, u iamtypes.User, auth *authorization, report credentialReport) (map[string]any, error) {
	name := sdkaws.ToString(u.UserName)
	detail := auth.users[name]
	row, inReport := report[sdkaws.ToString(u.Arn)]

	attrs := map[string]any{
		"account_id": r.account,
		"arn":        sdkaws.ToString(u.Arn),
		"created_at": sdkaws.ToTime(u.CreateDate).UTC(),
	}

	// The report says whether a console password exists; a user created after the report
	// was generated is asked directly.
	if inReport {
		attrs["console_access"] = row.PasswordEnabled
		if t := row.PasswordLastChanged; t != nil {
			attrs["password_last_changed"] = *t
		}
	} else {
		profile, err := client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: u.UserName})
		switch {
		case err == nil:
			attrs["console_access"] = true
			if profile.LoginProfile != nil && profile.LoginProfile.CreateDate != nil {
				attrs["password_last_changed"] = profile.LoginProfile.CreateDate.UTC()
			}
		case isCode(err, noSuchEntity):
			attrs["console_access"] = false
		default:
			return nil, err
		}
	}
	if t := ptrTime(u.PasswordLastUsed); t != nil {
		attrs["password_last_used"] = *t
	} else if inReport && row.PasswordLastUsed != nil {
		attrs["password_last_used"] = *row.PasswordLastUsed
	}

	devices := []map[string]any{}
	mfa := iam.NewListMFADevicesPaginator(client, &iam.ListMFADevicesInput{UserName: u.UserName})
	for mfa.HasMorePages() {
		page, err := mfa.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range page.MFADevices {
			devices = append(devices, map[string]any{
				"serial_number": sdkaws.ToString(d.SerialNumber),
				"kind":          mfaKind(sdkaws.ToString(d.SerialNumber)),
				"enabled_at":    sdkaws.ToTime(d.EnableDate).UTC(),
			})
		}
	}
	attrs["mfa_devices"] = devices
	attrs["mfa_enabled"] = len(devices) > 0

	keys := []map[string]any{}
	list := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: u.UserName})
	for list.HasMorePages() {
		page, err := list.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range page.AccessKeyMetadata {
			key := map[string]any{
				"id":         sdkaws.ToString(k.AccessKeyId),
				"status":     string(k.Status),
				"created_at": sdkaws.ToTime(k.CreateDate).UTC(),
			}
			used, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
			if err != nil {
				return nil, err
			}
			if lu := used.AccessKeyLastUsed; lu != nil && lu.LastUsedDate != nil {
				key["last_used_at"] = lu.LastUsedDate.UTC()
				if svc := sdkaws.ToString(lu.ServiceName); !absent(svc) {
					key["last_used_service"] = svc
				}
			}
			keys = append(keys, key)
		}
	}
	attrs["access_keys"] = keys

	attached := []string{}
	for _, p := range detail.AttachedManagedPolicies {
		attached = append(attached, sdkaws.ToString(p.PolicyArn))
	}
	inline := []string{}
	for _, p := range detail.UserPolicyList {
		inline = append(inline, sdkaws.ToString(p.PolicyName))
	}
	groups := append([]string{}, detail.GroupList...)
	sort.Strings(attached)
	sort.Strings(inline)
	sort.Strings(groups)
	attrs["attached_policies"] = attached
	attrs["inline_policies"] = inline
	attrs["groups"] = groups
	attrs["is_admin"] = auth.isAdmin(detail)

	tagMap := map[string]string{}
	for _, t := range detail.Tags {
		tagMap[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
	}
	attrs["tags"] = tagMap
	if email := userEmail(name, tagMap); email != "" {
		attrs["email"] = email
	}
	return attrs, nil
}

// mfaKind tells a device's kind from its serial number: virtual devices and FIDO security
// keys have ARNs (…:mfa/… and …:u2f/…); hardware tokens have a bare serial number.
func mfaKind(serial string) string {
	switch {
	case strings.Contains(serial, ":u2f/"):
		return "u2f"
	case strings.Contains(serial, ":mfa/"):
		return "virtual"
	}
	return "hardware"
}

// userEmail is the value of the user's email tag (any case), or the user name when it is
// an email address.
func userEmail(name string, tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.EqualFold(k, "email") && strings.TrimSpace(tags[k]) != "" {
			return strings.TrimSpace(tags[k])
		}
	}
	if a, err := mail.ParseAddress(name); err == nil && a.Address == name && a.Name == "" {
		return name
	}
	return ""
}

func (r *run) collectRoot(ctx context.Context, client *iam.Client, report credentialReport, reportErr error) error {
	summary, err := client.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		return r.fail(ctx, typeRoot, "", err)
	}
	mfaEnabled := summary.SummaryMap["AccountMFAEnabled"] > 0
	rootARN := "arn:" + r.partition + ":iam::" + r.account + ":root"

	// A root user with MFA but no virtual device assigned to it uses a hardware device or
	// a security key.
	virtual := false
	if mfaEnabled {
		p := iam.NewListVirtualMFADevicesPaginator(client, &iam.ListVirtualMFADevicesInput{AssignmentStatus: iamtypes.AssignmentStatusTypeAssigned})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return r.fail(ctx, typeRoot, "", err)
			}
			for _, d := range page.VirtualMFADevices {
				if (d.User != nil && sdkaws.ToString(d.User.Arn) == rootARN) || strings.HasSuffix(sdkaws.ToString(d.SerialNumber), ":mfa/root-account-mfa-device") {
					virtual = true
				}
			}
		}
	}
	attrs := map[string]any{
		"account_id":           r.account,
		"mfa_enabled":          mfaEnabled,
		"hardware_mfa_enabled": mfaEnabled && !virtual,
		"access_keys_present":  summary.SummaryMap["AccountAccessKeysPresent"] > 0,
	}
	if row, ok := report.root(); ok {
		if row.PasswordLastUsed != nil {
			attrs["password_last_used"] = *row.PasswordLastUsed
		}
		var last *time.Time
		for _, k := range row.Keys {
			if k.LastUsed != nil && (last == nil || k.LastUsed.After(*last)) {
				last = k.LastUsed
			}
		}
		if last != nil {
			attrs["access_key_last_used"] = *last
		}
	} else if reportErr != nil {
		if err := r.fail(ctx, typeRoot, "", reportErr); err != nil {
			return err
		}
	}
	r.add(typeRoot, rootARN, "root ("+r.account+")", attrs)
	return nil
}

func (r *run) collectPasswordPolicy(ctx context.Context, client *iam.Client) error {
	attrs := map[string]any{
		"account_id":            r.account,
		"present":               false,
		"minimum_length":        int64(defaultMinimumLength),
		"require_uppercase":     false,
		"require_lowercase":     false,
		"require_numbers":       false,
		"require_symbols":       false,
		"max_age_days":          int64(0),
		"reuse_prevention":      int64(0),
		"allow_users_to_change": false,
		"hard_expiry":           false,
	}
	out, err := client.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	switch {
	case err == nil && out.PasswordPolicy != nil:
		p := out.PasswordPolicy
		attrs["present"] = true
		if p.MinimumPasswordLength != nil {
			attrs["minimum_length"] = int64(*p.MinimumPasswordLength)
		}
		attrs["require_uppercase"] = p.RequireUppercaseCharacters
		attrs["require_lowercase"] = p.RequireLowercaseCharacters
		attrs["require_numbers"] = p.RequireNumbers
		attrs["require_symbols"] = p.RequireSymbols
		if p.ExpirePasswords && p.MaxPasswordAge != nil {
			attrs["max_age_days"] = int64(*p.MaxPasswordAge)
		}
		if p.PasswordReusePrevention != nil {
			attrs["reuse_prevention"] = int64(*p.PasswordReusePrevention)
		}
		attrs["allow_users_to_change"] = p.AllowUsersToChangePassword
		attrs["hard_expiry"] = sdkaws.ToBool(p.HardExpiry)
	case err == nil, isCode(err, noSuchEntity):
		// No custom policy: IAM's defaults apply.
	default:
		return r.fail(ctx, typePasswordPolicy, "", err)
	}
	r.add(typePasswordPolicy, r.account, "password policy ("+r.account+")", attrs)
	return nil
}
