package aws

import (
	"context"
	"sort"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	configtypes "github.com/aws/aws-sdk-go-v2/service/configservice/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// collectRegion reports the regional resources of one region. Each type fails on its own.
func (r *run) collectRegion(ctx context.Context, region string) error {
	steps := []struct {
		typ     string
		collect func(context.Context, string) error
	}{
		{typeEBSDefault, r.collectEBSDefault},
		{typeVolume, r.collectVolumes},
		{typeSecurityGroup, r.collectSecurityGroups},
		{typeDBInstance, r.collectDBInstances},
		{typeTrail, r.collectTrails},
		{typeKey, r.collectKeys},
		{typeDetector, r.collectDetector},
		{typeConfigRecorder, r.collectConfigRecorder},
	}
	for _, s := range steps {
		if err := s.collect(ctx, region); err != nil {
			if err := r.fail(ctx, s.typ, region, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// regionalID is the external ID of a per-region setting.
func (r *run) regionalID(region string) string { return r.account + "/" + region }

func ec2Tags(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
	}
	return m
}

func (r *run) collectEBSDefault(ctx context.Context, region string) error {
	client := r.ec2Client(region)
	out, err := client.GetEbsEncryptionByDefault(ctx, &ec2.GetEbsEncryptionByDefaultInput{})
	if err != nil {
		return err
	}
	enabled := sdkaws.ToBool(out.EbsEncryptionByDefault)
	attrs := map[string]any{"account_id": r.account, "region": region, "enabled": enabled}
	if enabled {
		key, err := client.GetEbsDefaultKmsKeyId(ctx, &ec2.GetEbsDefaultKmsKeyIdInput{})
		if err != nil {
			return err
		}
		if id := sdkaws.ToString(key.KmsKeyId); id != "" {
			attrs["kms_key_id"] = id
		}
	}
	r.add(typeEBSDefault, r.regionalID(region), "EBS encryption by default ("+region+")", attrs)
	return nil
}

func (r *run) collectVolumes(ctx context.Context, region string) error {
	p := ec2.NewDescribeVolumesPaginator(r.ec2Client(region), &ec2.DescribeVolumesInput{MaxResults: sdkaws.Int32(500)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, v := range page.Volumes {
			attached := []string{}
			for _, a := range v.Attachments {
				if id := sdkaws.ToString(a.InstanceId); id != "" {
					attached = append(attached, id)
				}
			}
			tags := ec2Tags(v.Tags)
			attrs := map[string]any{
				"account_id":         r.account,
				"region":             region,
				"encrypted":          sdkaws.ToBool(v.Encrypted),
				"state":              string(v.State),
				"size_gib":           int64(sdkaws.ToInt32(v.Size)),
				"volume_type":        string(v.VolumeType),
				"attached_instances": attached,
				"created_at":         sdkaws.ToTime(v.CreateTime).UTC(),
				"tags":               tags,
			}
			if k := sdkaws.ToString(v.KmsKeyId); k != "" {
				attrs["kms_key_id"] = k
			}
			id := sdkaws.ToString(v.VolumeId)
			r.add(typeVolume, id, tags["Name"], attrs)
		}
	}
	return nil
}

func (r *run) collectSecurityGroups(ctx context.Context, region string) error {
	client := r.ec2Client(region)
	inUse := map[string]bool{}
	enis := ec2.NewDescribeNetworkInterfacesPaginator(client, &ec2.DescribeNetworkInterfacesInput{MaxResults: sdkaws.Int32(1000)})
	for enis.HasMorePages() {
		page, err := enis.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, eni := range page.NetworkInterfaces {
			for _, g := range eni.Groups {
				inUse[sdkaws.ToString(g.GroupId)] = true
			}
		}
	}
	p := ec2.NewDescribeSecurityGroupsPaginator(client, &ec2.DescribeSecurityGroupsInput{MaxResults: sdkaws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, g := range page.SecurityGroups {
			id := sdkaws.ToString(g.GroupId)
			attrs := map[string]any{
				"account_id":  r.account,
				"region":      region,
				"description": sdkaws.ToString(g.Description),
				"is_default":  sdkaws.ToString(g.GroupName) == "default",
				"in_use":      inUse[id],
				"ingress":     securityRules(g.IpPermissions),
				"egress":      securityRules(g.IpPermissionsEgress),
				"tags":        ec2Tags(g.Tags),
			}
			if vpc := sdkaws.ToString(g.VpcId); vpc != "" {
				attrs["vpc_id"] = vpc
			}
			r.add(typeSecurityGroup, id, sdkaws.ToString(g.GroupName), attrs)
		}
	}
	return nil
}

// securityRules flattens permissions into one rule object per range, group or prefix list.
func securityRules(perms []ec2types.IpPermission) []map[string]any {
	rules := []map[string]any{}
	for _, p := range perms {
		proto := sdkaws.ToString(p.IpProtocol)
		from, to := portRange(proto, p.FromPort, p.ToPort)
		rule := func(key, value, desc string) {
			m := map[string]any{"protocol": proto, "from_port": from, "to_port": to, key: value}
			if desc != "" {
				m["description"] = desc
			}
			rules = append(rules, m)
		}
		for _, ip := range p.IpRanges {
			rule("cidr", sdkaws.ToString(ip.CidrIp), sdkaws.ToString(ip.Description))
		}
		for _, ip := range p.Ipv6Ranges {
			rule("cidr", sdkaws.ToString(ip.CidrIpv6), sdkaws.ToString(ip.Description))
		}
		for _, g := range p.UserIdGroupPairs {
			rule("source", sdkaws.ToString(g.GroupId), sdkaws.ToString(g.Description))
		}
		for _, pl := range p.PrefixListIds {
			rule("source", sdkaws.ToString(pl.PrefixListId), sdkaws.ToString(pl.Description))
		}
	}
	return rules
}

// portRange returns a rule's ports: the given range for TCP and UDP, and 0–65535 for all
// protocols ("-1") and protocols without ports, where EC2 reports -1 or nothing.
func portRange(proto string, from, to *int32) (int64, int64) {
	switch strings.ToLower(proto) {
	case "tcp", "udp", "6", "17":
		if from != nil && to != nil && *from >= 0 && *to >= 0 {
			return int64(*from), int64(*to)
		}
	}
	return 0, 65535
}

func rdsTags(tags []rdstypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
	}
	return m
}

func (r *run) collectDBInstances(ctx context.Context, region string) error {
	client := r.rdsClient(region)
	var instances []rdstypes.DBInstance
	p := rds.NewDescribeDBInstancesPaginator(client, &rds.DescribeDBInstancesInput{MaxRecords: sdkaws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		instances = append(instances, page.DBInstances...)
	}
	clusters := map[string]rdstypes.DBCluster{}
	for _, in := range instances {
		if sdkaws.ToString(in.DBClusterIdentifier) == "" {
			continue
		}
		// Only ask for clusters when an instance belongs to one.
		cp := rds.NewDescribeDBClustersPaginator(client, &rds.DescribeDBClustersInput{MaxRecords: sdkaws.Int32(100)})
		for cp.HasMorePages() {
			page, err := cp.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, c := range page.DBClusters {
				clusters[sdkaws.ToString(c.DBClusterIdentifier)] = c
			}
		}
		break
	}
	for _, in := range instances {
		attrs := map[string]any{
			"account_id":                  r.account,
			"region":                      region,
			"arn":                         sdkaws.ToString(in.DBInstanceArn),
			"engine":                      sdkaws.ToString(in.Engine),
			"engine_version":              sdkaws.ToString(in.EngineVersion),
			"instance_class":              sdkaws.ToString(in.DBInstanceClass),
			"storage_encrypted":           sdkaws.ToBool(in.StorageEncrypted),
			"publicly_accessible":         sdkaws.ToBool(in.PubliclyAccessible),
			"backup_retention_days":       int64(sdkaws.ToInt32(in.BackupRetentionPeriod)),
			"multi_az":                    sdkaws.ToBool(in.MultiAZ),
			"deletion_protection":         sdkaws.ToBool(in.DeletionProtection),
			"auto_minor_version_upgrade":  sdkaws.ToBool(in.AutoMinorVersionUpgrade),
			"iam_database_authentication": sdkaws.ToBool(in.IAMDatabaseAuthenticationEnabled),
			"tags":                        rdsTags(in.TagList),
		}
		if k := sdkaws.ToString(in.KmsKeyId); k != "" {
			attrs["kms_key_id"] = k
		}
		if cid := sdkaws.ToString(in.DBClusterIdentifier); cid != "" {
			attrs["cluster_id"] = cid
			// Aurora keeps backups, availability zones and protection at the cluster.
			if c, ok := clusters[cid]; ok {
				attrs["backup_retention_days"] = int64(sdkaws.ToInt32(c.BackupRetentionPeriod))
				attrs["multi_az"] = sdkaws.ToBool(c.MultiAZ)
				attrs["deletion_protection"] = sdkaws.ToBool(c.DeletionProtection)
				attrs["storage_encrypted"] = sdkaws.ToBool(c.StorageEncrypted)
				attrs["iam_database_authentication"] = sdkaws.ToBool(c.IAMDatabaseAuthenticationEnabled)
				if k := sdkaws.ToString(c.KmsKeyId); k != "" {
					attrs["kms_key_id"] = k
				}
			}
		}
		r.add(typeDBInstance, sdkaws.ToString(in.DBInstanceArn), sdkaws.ToString(in.DBInstanceIdentifier), attrs)
	}
	return nil
}

// collectTrails reports the trails visible from a region, including multi-region and
// organization trails created elsewhere; a trail seen from several regions is reported
// once.
func (r *run) collectTrails(ctx context.Context, region string) error {
	client := r.cloudtrailClient(region)
	out, err := client.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: sdkaws.Bool(true)})
	if err != nil {
		return err
	}
	for _, t := range out.TrailList {
		arn := sdkaws.ToString(t.TrailARN)
		if r.seen[typeTrail+"\x00"+arn] {
			continue
		}
		status, err := client.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: t.TrailARN})
		if err != nil {
			return err
		}
		selectors, err := client.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: t.TrailARN})
		if err != nil {
			return err
		}
		attrs := map[string]any{
			"account_id":          r.account,
			"arn":                 arn,
			"region":              sdkaws.ToString(t.HomeRegion),
			"multi_region":        sdkaws.ToBool(t.IsMultiRegionTrail),
			"organization_trail":  sdkaws.ToBool(t.IsOrganizationTrail),
			"logging":             sdkaws.ToBool(status.IsLogging),
			"log_file_validation": sdkaws.ToBool(t.LogFileValidationEnabled),
			"management_events":   recordsManagementEvents(selectors),
			"s3_bucket":           sdkaws.ToString(t.S3BucketName),
		}
		if attrs["region"] == "" {
			attrs["region"] = region
		}
		if k := sdkaws.ToString(t.KmsKeyId); k != "" {
			attrs["kms_key_id"] = k
		}
		if g := logGroupName(sdkaws.ToString(t.CloudWatchLogsLogGroupArn)); g != "" {
			attrs["cloudwatch_log_group"] = g
		}
		if d := ptrTime(status.LatestDeliveryTime); d != nil {
			attrs["latest_delivery_at"] = *d
		}
		r.add(typeTrail, arn, sdkaws.ToString(t.Name), attrs)
	}
	return nil
}

// recordsManagementEvents reports whether a trail records read and write management
// events, through basic or advanced event selectors.
func recordsManagementEvents(out *cloudtrail.GetEventSelectorsOutput) bool {
	for _, s := range out.EventSelectors {
		if (s.IncludeManagementEvents == nil || *s.IncludeManagementEvents) && (s.ReadWriteType == "" || s.ReadWriteType == cttypes.ReadWriteTypeAll) {
			return true
		}
	}
	for _, s := range out.AdvancedEventSelectors {
		management, bothDirections := false, true
		for _, f := range s.FieldSelectors {
			switch sdkaws.ToString(f.Field) {
			case "eventCategory":
				management = containsFold(f.Equals, "Management")
			case "readOnly":
				// A readOnly selector limits the trail to reads or to writes.
				bothDirections = false
			}
		}
		if management && bothDirections {
			return true
		}
	}
	return false
}

// logGroupName returns the name in a CloudWatch Logs group ARN
// (arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*), or the value itself when it is not one.
func logGroupName(arn string) string {
	const marker = ":log-group:"
	i := strings.Index(arn, marker)
	if i < 0 {
		return arn
	}
	return strings.TrimSuffix(arn[i+len(marker):], ":*")
}

func (r *run) collectKeys(ctx context.Context, region string) error {
	client := r.kmsClient(region)
	aliases := map[string][]string{} // key ID → alias names
	ap := kms.NewListAliasesPaginator(client, &kms.ListAliasesInput{Limit: sdkaws.Int32(100)})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, a := range page.Aliases {
			if id := sdkaws.ToString(a.TargetKeyId); id != "" {
				aliases[id] = append(aliases[id], sdkaws.ToString(a.AliasName))
			}
		}
	}
	p := kms.NewListKeysPaginator(client, &kms.ListKeysInput{Limit: sdkaws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, k := range page.Keys {
			desc, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil {
				return err
			}
			md := desc.KeyMetadata
			if md == nil {
				continue
			}
			attrs := map[string]any{
				"account_id":       r.account,
				"region":           region,
				"arn":              sdkaws.ToString(md.Arn),
				"customer_managed": md.KeyManager == kmstypes.KeyManagerTypeCustomer,
				"rotation_enabled": false,
				"key_state":        string(md.KeyState),
				"key_spec":         string(md.KeySpec),
				"key_usage":        string(md.KeyUsage),
				"created_at":       sdkaws.ToTime(md.CreationDate).UTC(),
			}
			// Only enabled or disabled symmetric keys with key material from KMS have a
			// rotation status; asking for the others is an error.
			if md.KeySpec == kmstypes.KeySpecSymmetricDefault && md.Origin != kmstypes.OriginTypeExternal &&
				(md.KeyState == kmstypes.KeyStateEnabled || md.KeyState == kmstypes.KeyStateDisabled) {
				rot, err := client.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
				if err != nil {
					return err
				}
				attrs["rotation_enabled"] = rot.KeyRotationEnabled
				if rot.KeyRotationEnabled && rot.RotationPeriodInDays != nil {
					attrs["rotation_period_days"] = int64(*rot.RotationPeriodInDays)
				}
			}
			id := sdkaws.ToString(md.KeyId)
			name := id
			if names := aliases[id]; len(names) > 0 {
				sort.Strings(names)
				name = names[0]
			}
			r.add(typeKey, sdkaws.ToString(md.Arn), name, attrs)
		}
	}
	return nil
}

func (r *run) collectDetector(ctx context.Context, region string) error {
	client := r.guarddutyClient(region)
	var ids []string
	p := guardduty.NewListDetectorsPaginator(client, &guardduty.ListDetectorsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		ids = append(ids, page.DetectorIds...)
	}
	attrs := map[string]any{"account_id": r.account, "region": region, "enabled": false}
	// A region has at most one detector per account.
	if len(ids) > 0 {
		d, err := client.GetDetector(ctx, &guardduty.GetDetectorInput{DetectorId: sdkaws.String(ids[0])})
		if err != nil {
			return err
		}
		attrs["detector_id"] = ids[0]
		attrs["enabled"] = d.Status == gdtypes.DetectorStatusEnabled
		if f := string(d.FindingPublishingFrequency); f != "" {
			attrs["finding_publishing_frequency"] = f
		}
	}
	r.add(typeDetector, r.regionalID(region), "GuardDuty ("+region+")", attrs)
	return nil
}

func (r *run) collectConfigRecorder(ctx context.Context, region string) error {
	client := r.configClient(region)
	recorders, err := client.DescribeConfigurationRecorders(ctx, &configservice.DescribeConfigurationRecordersInput{})
	if err != nil {
		return err
	}
	statuses, err := client.DescribeConfigurationRecorderStatus(ctx, &configservice.DescribeConfigurationRecorderStatusInput{})
	if err != nil {
		return err
	}
	attrs := map[string]any{
		"account_id":               r.account,
		"region":                   region,
		"recording":                false,
		"all_supported":            false,
		"include_global_resources": false,
	}
	status := map[string]configtypes.ConfigurationRecorderStatus{}
	for _, st := range statuses.ConfigurationRecordersStatus {
		status[sdkaws.ToString(st.Name)] = st
	}
	// Prefer the account's own recorder that is recording. Service-linked recorders (with
	// a service principal) record only for their service and are not the account's.
	var chosen *configtypes.ConfigurationRecorder
	for i := range recorders.ConfigurationRecorders {
		rec := &recorders.ConfigurationRecorders[i]
		if sdkaws.ToString(rec.ServicePrincipal) != "" {
			continue
		}
		if chosen == nil || (status[sdkaws.ToString(rec.Name)].Recording && !status[sdkaws.ToString(chosen.Name)].Recording) {
			chosen = rec
		}
	}
	if chosen != nil {
		if g := chosen.RecordingGroup; g != nil {
			attrs["all_supported"] = g.AllSupported
			attrs["include_global_resources"] = g.IncludeGlobalResourceTypes
		}
		if st, ok := status[sdkaws.ToString(chosen.Name)]; ok {
			attrs["recording"] = st.Recording
			if s := string(st.LastStatus); s != "" {
				attrs["last_status"] = strings.ToUpper(s)
			}
		}
	}
	r.add(typeConfigRecorder, r.regionalID(region), "AWS Config ("+region+")", attrs)
	return nil
}
