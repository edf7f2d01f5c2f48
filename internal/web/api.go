package web

import "net/http"

// routesAPI registers /api/v1. (Owned by the API work.)
func (s *Server) routesAPI(mux *http.ServeMux) {}
