package web

import (
	"fmt"
	"html/template"
)

// icons are the interface's icons by name, as whole SVG elements: 24×24 line drawings
// that take the text colour (see .icon in style.css). Templates show one with
// {{template "icon" "name"}}; a name missing here fails the page, and a test checks
// that every name the templates use is here.
//
// They are markup rather than a chain of comparisons in the template because the
// dashboard and the navigation draw a score of them on every request.
var icons = map[string]template.HTML{
	"dashboard":    iconSVG(`<path d="M4 13h6V4H4zM14 20h6v-9h-6zM14 8h6V4h-6zM4 20h6v-3H4z"/>`),
	"readiness":    iconSVG(`<path d="M4 17a8 8 0 1 1 16 0"/><path d="m12 17 4.5-5.5"/><circle cx="12" cy="17" r="1.2"/>`),
	"controls":     iconSVG(`<path d="M12 3 5 6v5.2c0 4.3 2.9 7.8 7 9.8 4.1-2 7-5.5 7-9.8V6z"/><path d="m9 12 2.2 2.2L15.5 10"/>`),
	"criteria":     iconSVG(`<path d="M6 3.5h9.5L19 7v13.5H6z"/><path d="M9 10h7M9 13.5h7M9 17h4"/>`),
	"scope":        iconSVG(`<circle cx="12" cy="12" r="8"/><circle cx="12" cy="12" r="3.5"/><path d="M12 2v3M12 19v3M2 12h3M19 12h3"/>`),
	"people":       iconSVG(`<circle cx="9" cy="8.5" r="3.5"/><path d="M3 20c.5-3.4 3-5.5 6-5.5s5.5 2.1 6 5.5"/><path d="M15.5 5a3.5 3.5 0 0 1 0 7M17.5 14.8c1.9.8 3.1 2.6 3.5 5.2"/>`),
	"tokens":       iconSVG(`<circle cx="8" cy="15" r="4.5"/><path d="m11.2 11.8 8.3-8.3M16.5 6.5l2.5 2.5M14 9l2 2"/>`),
	"activity":     iconSVG(`<path d="M3 12h4l2.5-6 5 12 2.5-6h4"/>`),
	"organization": iconSVG(`<path d="M4 21V6l8-3v18M12 9h8v12M3 21h18M7.5 8.5v.5M7.5 12.5v.5M7.5 16.5v.5M16 13v.5M16 17v.5"/>`),
	"check":        iconSVG(`<path d="m5 12.5 4.5 4.5L19 7.5"/>`),
	"search":       iconSVG(`<circle cx="11" cy="11" r="6.5"/><path d="m16 16 4.5 4.5"/>`),
	"download":     iconSVG(`<path d="M12 4v11M7 10.5l5 5 5-5M5 20h14"/>`),
	"plus":         iconSVG(`<path d="M12 5v14M5 12h14"/>`),
	"arrow":        iconSVG(`<path d="M5 12h14M13 6l6 6-6 6"/>`),
	"warning":      iconSVG(`<path d="M12 4 2.8 20h18.4z"/><path d="M12 10v4.5M12 17.2v.3"/>`),
	"evidence":     iconSVG(`<path d="M7 3.5h7l4 4v13H7z"/><path d="M14 3.5v4h4"/><path d="m9.8 14.2 2 2 3.6-4"/>`),
	"tasks":        iconSVG(`<path d="M9 6h11M9 12h11M9 18h11"/><path d="m3.5 6 1.2 1.2L7 5M3.5 12l1.2 1.2L7 11"/><circle cx="5" cy="18" r="1.3"/>`),
	"ledger":       iconSVG(`<rect x="4" y="4" width="7" height="5" rx="1"/><rect x="13" y="4" width="7" height="5" rx="1"/><rect x="8.5" y="15" width="7" height="5" rx="1"/><path d="M7.5 9v3h9V9M12 12v3"/>`),
	"tests":        iconSVG(`<path d="M9 3.5h6M10 3.5v6L5 19a1.2 1.2 0 0 0 1 1.5h12a1.2 1.2 0 0 0 1-1.5l-5-9.5v-6"/><path d="M7.5 14.5h9"/>`),
	"inventory":    iconSVG(`<rect x="4" y="4" width="16" height="5" rx="1"/><rect x="4" y="11" width="16" height="5" rx="1"/><path d="M7.5 6.5h.01M7.5 13.5h.01M4 20h16"/>`),
	"connections":  iconSVG(`<path d="M9 7V3M15 7V3M6.5 7h11v4a5.5 5.5 0 0 1-11 0z"/><path d="M12 16.5V21"/>`),
	"alerts":       iconSVG(`<path d="M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15z"/><path d="M10 20.5a2 2 0 0 0 4 0"/>`),
	"report":       iconSVG(`<path d="M6 3.5h9.5L19 7v13.5H6z"/><path d="M9 17v-3M12 17v-6M15 17v-4.5"/>`),
}

// iconSVG wraps an icon's drawing in its svg element, hidden from assistive technology:
// every icon sits beside a text that says the same.
func iconSVG(drawing string) template.HTML {
	return template.HTML(`<svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">` + drawing + `</svg>`)
}

// icon returns the named icon for templates.
func icon(name string) (template.HTML, error) {
	svg, ok := icons[name]
	if !ok {
		return "", fmt.Errorf("no icon named %q", name)
	}
	return svg, nil
}
