package connector

import (
	"net/http"
	"strings"
)

// Route is one API operation a connector calls: the method and path template of its
// requests, with each variable segment in braces, and the vendor's name for it.
type Route struct {
	Method string
	// Path is the template, such as "/orgs/{org}/members".
	Path string
	// Name is the operation's name, such as "ListUsers"; empty means "METHOD PATH",
	// which is how some vendors (GitHub) name their endpoints.
	Name string
}

// Routes names the operations of a REST API from the requests' method and path.
type Routes []Route

// Operation returns the name of the route a request matches, or "" when none does. The
// template is matched against the end of the path, segment by segment on the escaped
// path (so an escaped slash stays inside its segment), so that an API served under a base
// path (GitHub Enterprise's /api/v3) matches too; the longest matching template wins.
// It suits Recorder.Operation.
func (rs Routes) Operation(req *http.Request) string {
	segs := strings.Split(strings.Trim(req.URL.EscapedPath(), "/"), "/")
	best, bestLen := -1, 0
	for i, r := range rs {
		if r.Method != req.Method {
			continue
		}
		tmpl := strings.Split(strings.Trim(r.Path, "/"), "/")
		if len(tmpl) > len(segs) || len(tmpl) <= bestLen {
			continue
		}
		if matchSegments(tmpl, segs[len(segs)-len(tmpl):]) {
			best, bestLen = i, len(tmpl)
		}
	}
	if best < 0 {
		return ""
	}
	if rs[best].Name != "" {
		return rs[best].Name
	}
	return rs[best].Method + " " + rs[best].Path
}

// matchSegments reports whether path segments match a template's: literally, or any
// non-empty segment for a variable.
func matchSegments(tmpl, segs []string) bool {
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if t != segs[i] {
			return false
		}
	}
	return true
}
