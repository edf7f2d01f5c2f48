# Checks on device resources, the same as the shipped CEL library's.
package evident.device

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

selected contains "device-disk-encrypted"

passes contains "device-disk-encrypted" if input.disk_encrypted

selected contains "device-screen-lock"

passes contains "device-screen-lock" if {
	input.screen_lock_enabled
	not input.screen_lock_minutes
}

passes contains "device-screen-lock" if {
	input.screen_lock_enabled
	input.screen_lock_minutes <= 15
}

selected contains "device-managed"

passes contains "device-managed" if input.managed

selected contains "device-endpoint-protection" if input.platform in {"macos", "windows", "linux"}

passes contains "device-endpoint-protection" if input.endpoint_protection == true
