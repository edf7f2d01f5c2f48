# Checks on finding resources, the same as the shipped CEL library's.
package evident.finding

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

selected contains "scanner-no-open-critical-findings" if input.status == "fail"

passes contains "scanner-no-open-critical-findings" if not input.severity in {"critical", "high"}
