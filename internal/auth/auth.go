// Package auth signs people in: argon2id passwords, server-side sessions, API tokens and sign-in throttling.
package auth

import "github.com/evidenthq/evident/internal/domain"

// Service signs people in and out and authenticates API tokens.
type Service struct {
	Store domain.Store
}
