package monitor

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"sync"
)

//go:embed library/*.yaml
var libraryFS embed.FS

var (
	libraryOnce     sync.Once
	libraryTests    []Test
	libraryPrograms []*Program
	libraryErr      error
)

func loadLibrary() {
	names, err := fs.Glob(libraryFS, "library/*.yaml")
	if err != nil {
		libraryErr = err
		return
	}
	sort.Strings(names)
	seen := map[string]string{}
	for _, name := range names {
		data, err := libraryFS.ReadFile(name)
		if err != nil {
			libraryErr = err
			return
		}
		tests, err := ParseTests(name, data)
		if err != nil {
			libraryErr = err
			return
		}
		for _, t := range tests {
			if origin, dup := seen[t.ID]; dup {
				libraryErr = fmt.Errorf("%s: test %s is already defined at %s", t.Origin, t.ID, origin)
				return
			}
			seen[t.ID] = t.Origin
			p, err := compile(t, true)
			if err != nil {
				libraryErr = fmt.Errorf("%s: test %s: %w", t.Origin, t.ID, err)
				return
			}
			libraryTests = append(libraryTests, t)
			libraryPrograms = append(libraryPrograms, p)
		}
	}
}

// Library returns the shipped tests, in file and then file order. The embedded files are
// validated by the package's tests, so an error here means a broken build; it panics.
func Library() []Test {
	libraryOnce.Do(loadLibrary)
	if libraryErr != nil {
		panic("monitor: the shipped test library is invalid: " + libraryErr.Error())
	}
	out := make([]Test, len(libraryTests))
	copy(out, libraryTests)
	return out
}

// LibraryPrograms returns the shipped tests compiled, in the order of Library. Programs are
// immutable and shared.
func LibraryPrograms() []*Program {
	libraryOnce.Do(loadLibrary)
	if libraryErr != nil {
		panic("monitor: the shipped test library is invalid: " + libraryErr.Error())
	}
	out := make([]*Program, len(libraryPrograms))
	copy(out, libraryPrograms)
	return out
}
