package evidence

import (
	"mime"
	"testing"
)

// TestValidMediaType checks that the quick check of media types agrees with
// mime.ParseMediaType, which it stands in for.
func TestValidMediaType(t *testing.T) {
	for _, s := range []string{
		"application/json", "text/csv", "application/vnd.ms-excel", "image/svg+xml", "application/x-ndjson",
		"text/plain; charset=utf-8", "TEXT/HTML", "application/*", "*/*",
		"", "/", "json", "application/", "/json", "application/json/", "app lication/json", "application/js on",
		"application/(json)", "application/json;", "text/plain; charset", "application/jsön", "application/json\x00",
		"text/plain;;", `text/plain; a="b"`, "a/b/c", "\u00e9/x",
	} {
		_, _, err := mime.ParseMediaType(s)
		if got, want := validMediaType(s), err == nil; got != want {
			t.Errorf("validMediaType(%q) = %v; mime.ParseMediaType says %v", s, got, want)
		}
	}
}

func FuzzValidMediaType(f *testing.F) {
	f.Add("application/json")
	f.Add("text/plain; charset=utf-8")
	f.Add("a/b/c")
	f.Fuzz(func(t *testing.T, s string) {
		_, _, err := mime.ParseMediaType(s)
		if got, want := validMediaType(s), err == nil; got != want {
			t.Errorf("validMediaType(%q) = %v; mime.ParseMediaType says %v", s, got, want)
		}
	})
}
