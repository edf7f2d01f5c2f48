package domain

import (
	"regexp"
	"strings"
	"time"
)

// Organization is a tenant. Every other object belongs to exactly one.
type Organization struct {
	ID        int64
	Slug      string
	Name      string
	CreatedAt time.Time
}

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$`)

// ValidateOrganization checks a new organization's fields.
func ValidateOrganization(o *Organization) error {
	if !slugPattern.MatchString(o.Slug) {
		return Invalid("slug", "must be 1 to 40 lower-case letters, digits or inner hyphens")
	}
	o.Name = strings.TrimSpace(o.Name)
	if o.Name == "" {
		return Invalid("name", "is required")
	}
	if len(o.Name) > 200 {
		return Invalid("name", "must be at most 200 characters")
	}
	return nil
}

// Role is a member's role in an organization.
type Role string

// The roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleViewer Role = "viewer"
	// RoleAuditor is an external auditor with read-only access to an audit workspace.
	RoleAuditor Role = "auditor"
)

// Roles lists the roles that can be assigned today, most powerful first.
var Roles = []Role{RoleOwner, RoleAdmin, RoleMember, RoleViewer}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, v := range Roles {
		if r == v {
			return true
		}
	}
	return r == RoleAuditor
}

// CanEdit reports whether the role may change controls, scope, evidence and the like.
func (r Role) CanEdit() bool { return r == RoleOwner || r == RoleAdmin || r == RoleMember }

// CanAdmin reports whether the role may manage people, roles and organization settings.
func (r Role) CanAdmin() bool { return r == RoleOwner || r == RoleAdmin }

// User is a person who can sign in. A user may belong to several organizations.
type User struct {
	ID           int64
	Email        string
	Name         string
	PasswordHash string // argon2id in PHC string form; never leaves the server
	CreatedAt    time.Time
}

// Member is a user as seen from one organization.
type Member struct {
	User
	OrgID int64
	Role  Role
}

var emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// NormalizeEmail lower-cases and trims an email address and checks its shape.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > 254 || !emailPattern.MatchString(s) {
		return "", Invalid("email", "is not a valid email address")
	}
	return s, nil
}

// Session is a signed-in browser. Only the SHA-256 of its token is stored.
type Session struct {
	TokenHash  []byte
	UserID     int64
	OrgID      int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute limit
	IP         string
	UserAgent  string
}

// APIToken is a bearer token for /api/v1. Only the SHA-256 of its secret is stored.
type APIToken struct {
	ID         int64
	OrgID      int64
	UserID     int64
	Name       string
	Prefix     string // first characters of the token, shown so people can tell tokens apart
	Hash       []byte
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}
