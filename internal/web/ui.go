package web

import "net/http"

// routesUI registers the HTML pages. (Owned by the UI work.)
func (s *Server) routesUI(mux *http.ServeMux) error { return nil }
