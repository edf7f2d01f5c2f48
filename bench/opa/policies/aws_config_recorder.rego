# Checks on aws.config.recorder resources, the same as the shipped CEL library's.
package evident.aws_config_recorder

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

selected contains "aws-config-recording"

passes contains "aws-config-recording" if {
	input.recording
	input.all_supported
}
