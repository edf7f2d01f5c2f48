package aws

import (
	"context"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
)

// S3 error codes that mean "not configured" rather than a failure.
const (
	noPublicAccessBlock = "NoSuchPublicAccessBlockConfiguration"
	noEncryption        = "ServerSideEncryptionConfigurationNotFoundError"
	noBucketPolicy      = "NoSuchBucketPolicy"
	noTagSet            = "NoSuchTagSet"
)

// Grantee groups that make an ACL public.
var publicGrantees = map[string]bool{
	"http://acs.amazonaws.com/groups/global/AllUsers":           true,
	"http://acs.amazonaws.com/groups/global/AuthenticatedUsers": true,
}

// blockSettings is the shape of both public access block objects.
func blockSettings(acls, ignore, policy, restrict *bool) map[string]any {
	return map[string]any{
		"block_public_acls":       sdkaws.ToBool(acls),
		"ignore_public_acls":      sdkaws.ToBool(ignore),
		"block_public_policy":     sdkaws.ToBool(policy),
		"restrict_public_buckets": sdkaws.ToBool(restrict),
	}
}

// collectS3 reports the account's Block Public Access settings and every bucket.
func (r *run) collectS3(ctx context.Context) error {
	account := blockSettings(nil, nil, nil, nil)
	out, err := r.s3controlClient().GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: sdkaws.String(r.account)})
	switch {
	case err == nil:
		if c := out.PublicAccessBlockConfiguration; c != nil {
			account = blockSettings(c.BlockPublicAcls, c.IgnorePublicAcls, c.BlockPublicPolicy, c.RestrictPublicBuckets)
		}
	case isCode(err, noPublicAccessBlock):
	default:
		if err := r.fail(ctx, typeAccountPAB, "", err); err != nil {
			return err
		}
		// Every bucket repeats the account setting, so none can be reported either.
		return r.fail(ctx, typeBucket, "", fmt.Errorf("account public access block: %w", err))
	}
	attrs := copyAttrs(account)
	attrs["account_id"] = r.account
	r.add(typeAccountPAB, r.account, "S3 Block Public Access ("+r.account+")", attrs)

	var buckets []s3types.Bucket
	list := s3.NewListBucketsPaginator(r.s3Client(r.home), &s3.ListBucketsInput{MaxBuckets: sdkaws.Int32(1000)})
	for list.HasMorePages() {
		page, err := list.NextPage(ctx)
		if err != nil {
			return r.fail(ctx, typeBucket, "", err)
		}
		buckets = append(buckets, page.Buckets...)
	}
	for _, b := range buckets {
		name := sdkaws.ToString(b.Name)
		attrs, err := r.bucket(ctx, b, account)
		if err != nil {
			if err := r.fail(ctx, typeBucket, "bucket "+name, err); err != nil {
				return err
			}
			continue
		}
		r.add(typeBucket, r.arn("s3", "", "", name), name, attrs)
	}
	return nil
}

// bucketRegion returns the region a bucket lives in.
func (r *run) bucketRegion(ctx context.Context, b s3types.Bucket) (string, error) {
	if region := sdkaws.ToString(b.BucketRegion); region != "" {
		return region, nil
	}
	loc, err := r.s3Client(r.home).GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: b.Name})
	if err != nil {
		return "", err
	}
	switch loc.LocationConstraint {
	case "":
		return "us-east-1", nil
	case s3types.BucketLocationConstraintEu:
		return "eu-west-1", nil
	}
	return string(loc.LocationConstraint), nil
}

// bucket gathers one bucket's attributes, asking the bucket's own region.
func (r *run) bucket(ctx context.Context, b s3types.Bucket, account map[string]any) (map[string]any, error) {
	region, err := r.bucketRegion(ctx, b)
	if err != nil {
		return nil, err
	}
	client := r.s3Client(region)
	name := b.Name
	attrs := map[string]any{
		"account_id":                  r.account,
		"arn":                         r.arn("s3", "", "", sdkaws.ToString(name)),
		"region":                      region,
		"created_at":                  sdkaws.ToTime(b.CreationDate).UTC(),
		"account_public_access_block": copyAttrs(account),
		"encryption_enabled":          false,
	}

	enc, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: name})
	switch {
	case err == nil:
		if c := enc.ServerSideEncryptionConfiguration; c != nil {
			for _, rule := range c.Rules {
				def := rule.ApplyServerSideEncryptionByDefault
				if def == nil || def.SSEAlgorithm == "" {
					continue
				}
				attrs["encryption_enabled"] = true
				attrs["encryption_algorithm"] = string(def.SSEAlgorithm)
				if k := sdkaws.ToString(def.KMSMasterKeyID); k != "" {
					attrs["kms_key_id"] = k
				}
				break
			}
		}
	case isCode(err, noEncryption):
	default:
		return nil, err
	}

	pab, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: name})
	switch {
	case err == nil && pab.PublicAccessBlockConfiguration != nil:
		c := pab.PublicAccessBlockConfiguration
		attrs["public_access_block"] = blockSettings(c.BlockPublicAcls, c.IgnorePublicAcls, c.BlockPublicPolicy, c.RestrictPublicBuckets)
	case err == nil, isCode(err, noPublicAccessBlock):
		attrs["public_access_block"] = blockSettings(nil, nil, nil, nil)
	default:
		return nil, err
	}

	status, err := client.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: name})
	switch {
	case err == nil:
		attrs["public_policy"] = status.PolicyStatus != nil && sdkaws.ToBool(status.PolicyStatus.IsPublic)
	case isCode(err, noBucketPolicy):
		attrs["public_policy"] = false
	default:
		return nil, err
	}

	acl, err := client.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: name})
	if err != nil {
		return nil, err
	}
	public := false
	for _, g := range acl.Grants {
		if g.Grantee != nil && publicGrantees[sdkaws.ToString(g.Grantee.URI)] {
			public = true
		}
	}
	attrs["public_acl"] = public

	policy, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: name})
	switch {
	case err == nil:
		doc, err := parsePolicy(sdkaws.ToString(policy.Policy))
		if err != nil {
			return nil, fmt.Errorf("bucket policy: %w", err)
		}
		attrs["tls_only_policy"] = deniesInsecureTransport(doc)
	case isCode(err, noBucketPolicy):
		attrs["tls_only_policy"] = false
	default:
		return nil, err
	}

	versioning, err := client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: name})
	if err != nil {
		return nil, err
	}
	attrs["versioning_enabled"] = versioning.Status == s3types.BucketVersioningStatusEnabled

	logging, err := client.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: name})
	if err != nil {
		return nil, err
	}
	attrs["logging_enabled"] = logging.LoggingEnabled != nil && sdkaws.ToString(logging.LoggingEnabled.TargetBucket) != ""

	tags := map[string]string{}
	tagging, err := client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: name})
	switch {
	case err == nil:
		for _, t := range tagging.TagSet {
			tags[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
		}
	case isCode(err, noTagSet):
	default:
		return nil, err
	}
	attrs["tags"] = tags
	return attrs, nil
}

// copyAttrs returns a shallow copy, so that resources never share a map that a consumer
// might normalize in place.
func copyAttrs(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
