package github

import (
	"context"
	"errors"
	"sort"
	"strings"

	gh "github.com/google/go-github/v75/github"
)

// errNotOwner explains the fields GitHub leaves out for anyone but an organization owner.
var errNotOwner = errors.New("GitHub did not return the organization's security settings; the token must belong to an organization owner")

// addOrg reports the organization's security settings.
func (r *run) addOrg(org *gh.Organization) {
	if org.TwoFactorRequirementEnabled == nil || org.DefaultRepoPermission == nil || org.MembersCanCreatePublicRepos == nil {
		r.out.Fail(TypeOrg, errNotOwner)
		return
	}
	login := org.GetLogin()
	if login == "" {
		login = r.cfg.Organization
	}
	r.add(TypeOrg, login, org.GetName(), map[string]any{
		"login":                                  login,
		"two_factor_requirement_enabled":         org.GetTwoFactorRequirementEnabled(),
		"default_repository_permission":          org.GetDefaultRepoPermission(),
		"members_can_create_public_repositories": org.GetMembersCanCreatePublicRepos(),
	})
}

// collectMembers reports every member with their role and two-factor state, from three
// lists: all members, owners, and members without two-factor authentication.
func (r *run) collectMembers(ctx context.Context) error {
	members, err := r.members(ctx, "all", "all")
	if err != nil {
		return r.fail(ctx, TypeMember, "list members", err)
	}
	admins, err := r.members(ctx, "all", "admin")
	if err != nil {
		return r.fail(ctx, TypeMember, "list owners", err)
	}
	// Only owners may use this filter; GitHub refuses it to anyone else rather than
	// answering with an empty list.
	without2FA, err := r.members(ctx, "2fa_disabled", "all")
	if err != nil {
		return r.fail(ctx, TypeMember, "list members without two-factor authentication", err)
	}
	isAdmin := logins(admins)
	no2FA := logins(without2FA)
	org := r.cfg.Organization
	for _, m := range members {
		l := login(m)
		role := "member"
		if isAdmin[strings.ToLower(l)] {
			role = "admin"
		}
		r.add(TypeMember, org+"/"+l, l, map[string]any{
			"org":                org,
			"login":              l,
			"two_factor_enabled": !no2FA[strings.ToLower(l)],
			"role":               role,
		})
	}
	return nil
}

func (r *run) members(ctx context.Context, filter, role string) ([]*gh.User, error) {
	opts := &gh.ListMembersOptions{Filter: filter, Role: role}
	return list(&opts.ListOptions, func() ([]*gh.User, *gh.Response, error) {
		return r.gh.Organizations.ListMembers(ctx, r.cfg.Organization, opts)
	})
}

// logins returns the set of the users' logins, in lower case.
func logins(users []*gh.User) map[string]bool {
	m := make(map[string]bool, len(users))
	for _, u := range users {
		m[strings.ToLower(login(u))] = true
	}
	return m
}

// listOutsideCollaborators returns the organization's outside collaborators.
func (r *run) listOutsideCollaborators(ctx context.Context) ([]*gh.User, error) {
	opts := &gh.ListOutsideCollaboratorsOptions{Filter: "all"}
	return list(&opts.ListOptions, func() ([]*gh.User, *gh.Response, error) {
		return r.gh.Organizations.ListOutsideCollaborators(ctx, r.cfg.Organization, opts)
	})
}

// addOutsideCollaborators reports each outside collaborator with the repositories found
// while reading repositories.
func (r *run) addOutsideCollaborators(users []*gh.User) {
	org := r.cfg.Organization
	for _, u := range users {
		l := login(u)
		repos := r.outside[strings.ToLower(l)]
		sort.Slice(repos, func(i, j int) bool {
			return repos[i]["repository"].(string) < repos[j]["repository"].(string)
		})
		if repos == nil {
			repos = []map[string]any{}
		}
		r.add(TypeOutsideCollaborator, org+"/"+l, l, map[string]any{
			"org":          org,
			"login":        l,
			"repositories": repos,
		})
	}
}

// permission names a collaborator's access to a repository the way the schema does.
// Custom repository roles are reported as the base role they extend.
func permission(u *gh.User) string {
	switch role := u.GetRoleName(); role {
	case "read", "triage", "write", "maintain", "admin":
		return role
	}
	p := u.GetPermissions()
	switch {
	case p["admin"]:
		return "admin"
	case p["maintain"]:
		return "maintain"
	case p["push"]:
		return "write"
	case p["triage"]:
		return "triage"
	}
	return "read"
}
