package monitor

import (
	"fmt"
	"testing"
)

func TestZZMessages(t *testing.T) {
	fx := loadFixtures(t)
	for _, p := range LibraryPrograms() {
		tc := p.Test()
		ft := fx.Tests[tc.ID]
		var inv []*Resource
		for _, ir := range ft.Inventory {
			inv = append(inv, fx.resource(t, ir.Type, ir.ID, ir.Attributes))
		}
		for i, ov := range ft.Fail {
			r := fx.resource(t, tc.Type, fmt.Sprint("f", i), ov)
			st, msg := judgeOne(t, p, append([]*Resource{r}, inv...), fx.Now)
			if msg != "" {
				fmt.Printf("%-40s %s %s\n", tc.ID, st, msg)
			}
		}
	}
}
