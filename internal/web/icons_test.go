package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestIconsUsedExist checks that every icon a template asks for by name is drawn.
func TestIconsUsedExist(t *testing.T) {
	use := regexp.MustCompile(`\{\{-?\s*template "icon" "([^"]+)"`)
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, file := range files {
		b, err := fs.ReadFile(templateFS, file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range use.FindAllStringSubmatch(string(b), -1) {
			used++
			if _, ok := icons[m[1]]; !ok {
				t.Errorf("%s uses the icon %q, which icons.go does not draw", file, m[1])
			}
		}
	}
	if used == 0 {
		t.Errorf("no template uses an icon; the pattern %s no longer matches how templates ask for them", use)
	}
}

func TestIcon(t *testing.T) {
	for name := range icons {
		svg, err := icon(name)
		if err != nil || !strings.HasPrefix(string(svg), `<svg class="icon" `) || !strings.HasSuffix(string(svg), "</svg>") {
			t.Errorf("icon(%q) = %q, %v; want a whole svg element", name, svg, err)
		}
	}
	if _, err := icon("no-such-icon"); err == nil {
		t.Errorf("icon(no-such-icon) succeeded; want an error that fails the page")
	}
}
