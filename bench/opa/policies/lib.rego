# Helpers shared by the checks. Timestamps are nanoseconds since the epoch.
package evident.lib

import rego.v1

day_ns := 86400000000000

days(n) := n * day_ns

now := data.now_ns

norm(s) := lower(trim_space(s))

# related returns the resources of a type whose field equals value (case and surrounding
# space ignored), from the indexes built for the run.
related(typ, field, value) := rs if {
	rs := data.index[typ][field][norm(value)]
}

related(typ, field, value) := [] if {
	not data.index[typ][field][norm(value)]
}
