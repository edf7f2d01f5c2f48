# Checks on aws.ec2.security_group resources, the same as the shipped CEL library's.
package evident.aws_ec2_security_group

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

open_ranges := {"0.0.0.0/0", "::/0"}

open_protocols := {"tcp", "-1"}

exposes(ports) if {
	some r in input.ingress
	r.cidr in open_ranges
	r.protocol in open_protocols
	some p in ports
	r.from_port <= p
	p <= r.to_port
}

selected contains "aws-sg-no-public-ssh"

passes contains "aws-sg-no-public-ssh" if not exposes([22])

selected contains "aws-sg-no-public-rdp"

passes contains "aws-sg-no-public-rdp" if not exposes([3389])

selected contains "aws-sg-no-public-database-ports"

passes contains "aws-sg-no-public-database-ports" if not exposes([1433, 1521, 3306, 5432, 6379, 9200, 11211, 27017])

selected contains "aws-sg-default-restricts-all" if input.is_default

passes contains "aws-sg-default-restricts-all" if {
	count(input.ingress) == 0
	count(input.egress) == 0
}
