package importer

import (
	"fmt"
	"sort"
	"strings"
)

// maxGroupDepth bounds how deeply benchmark groups may nest.
const maxGroupDepth = 64

// ppControl is one control run of a Powerpipe or Steampipe benchmark result.
type ppControl struct {
	ControlID   string            `json:"control_id"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Severity    string            `json:"severity"`
	Tags        map[string]string `json:"tags"`
	RunError    string            `json:"run_error"`
	Results     []struct {
		Reason     string `json:"reason"`
		Resource   string `json:"resource"`
		Status     string `json:"status"`
		Dimensions []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"dimensions"`
	} `json:"results"`
}

// ppStatuses maps control result statuses to finding statuses.
var ppStatuses = map[string]string{"ok": "pass", "alarm": "fail", "info": "info", "skip": "skip", "error": "error"}

// importPowerpipe reads a benchmark result: the root group is walked token by token, and
// each control is decoded whole, so memory holds one control's results at a time.
func importPowerpipe(p *run, in *lineReader) error {
	s := newJSONStream(in)
	t, err := s.start("the JSON of powerpipe benchmark run --output json")
	if err != nil {
		return err
	}
	if !isDelim(t, '{') {
		return &Error{Line: s.in.lineAt(s.dec.InputOffset() - 1),
			Msg: "a Powerpipe benchmark result is a JSON object with groups and controls, not " + tokenKind(t)}
	}
	seen := false
	err = s.objectBody(func(key string) error {
		s.begin()
		switch key {
		case "group_id", "groups", "controls":
			seen = true
		}
		return ppGroupField(p, s, key, 0)
	})
	if err != nil {
		return err
	}
	if !seen {
		return &Error{Line: 1, Msg: "not a Powerpipe benchmark result: the object has no group_id, groups or controls"}
	}
	return s.end()
}

// ppGroup reads one result group object.
func ppGroup(p *run, s *jsonStream, depth int) error {
	if depth > maxGroupDepth {
		return &Error{Line: s.valueLine, Field: "groups", Msg: fmt.Sprintf("nest deeper than %d levels", maxGroupDepth)}
	}
	return s.object("groups", func(key string) error {
		s.begin()
		return ppGroupField(p, s, key, depth)
	})
}

// ppGroupField reads the value of one key of a group, after begin.
func ppGroupField(p *run, s *jsonStream, key string, depth int) error {
	switch key {
	case "groups":
		return s.array("groups", func(int) error { return ppGroup(p, s, depth+1) })
	case "controls":
		return s.array("controls", func(line int) error {
			var c ppControl
			if err := s.decode(&c); err != nil {
				return err
			}
			return c.emit(p, line)
		})
	}
	return s.skip()
}

// emit turns one control's results into findings.
func (c *ppControl) emit(p *run, line int) error {
	check := clean(c.ControlID)
	if check == "" {
		return errorf(line, "control_id", "is required")
	}
	sev := "info"
	if v := clean(c.Severity); v != "" {
		var ok bool
		if sev, ok = severity(v); !ok {
			return errorf(line, "severity", "must be critical, high, medium, low or none, not %q", v)
		}
	}
	base := finding{source: "steampipe", checkID: check, title: firstNonEmpty(c.Title, check), severity: sev, observed: p.now}
	if len(c.Results) == 0 {
		msg := clean(c.RunError)
		if msg == "" {
			return nil // a control that ran and returned no rows has nothing to report
		}
		f := base
		f.status = "error"
		f.message = msg
		return p.put(line, f.resource())
	}
	for i, r := range c.Results {
		field := fmt.Sprintf("results[%d]", i)
		st, ok := ppStatuses[strings.ToLower(clean(r.Status))]
		if !ok {
			return errorf(line, field+".status", "must be ok, alarm, info, skip or error, not %q", clean(r.Status))
		}
		f := base
		f.status = st
		f.message = clean(r.Reason)
		f.resourceID = clean(r.Resource)
		var dims []string
		for _, d := range r.Dimensions {
			k, v := clean(d.Key), clean(d.Value)
			if v == "" {
				continue
			}
			switch strings.ToLower(k) {
			case "account_id", "subscription_id", "project", "project_id":
				if f.account == "" {
					f.account = v
				}
			case "region", "location":
				if f.region == "" {
					f.region = v
				}
			}
			dims = append(dims, k+"="+v)
		}
		if f.resourceID == "" {
			if len(dims) == 0 {
				return errorf(line, field+".resource", "is required when a result has no dimensions")
			}
			sort.Strings(dims)
			f.id = "steampipe:" + check + ":" + strings.Join(dims, ",")
		}
		if err := p.put(line, f.resource()); err != nil {
			return err
		}
	}
	return nil
}
