package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"time"

	sdk "github.com/okta/okta-sdk-golang/v5/okta"
)

// collectUsers reports every user (Okta lists all but deprovisioned ones) with factors and
// administrator roles. Failing to list users stops the run: it is the first call, and it
// failing means the token or the address is wrong.
func (r *run) collectUsers(ctx context.Context) error {
	users, err := r.listUsers(ctx)
	if err != nil {
		return fmt.Errorf("okta: list users: %w", err)
	}
	roles, err := r.adminRoles(ctx)
	if err != nil {
		// Without roles every user would look like a non-administrator.
		return r.fail(ctx, TypeUser, "administrator roles", err)
	}
	for _, u := range users {
		id := u.GetId()
		factors, err := r.factors(ctx, id)
		if err != nil {
			if err := r.fail(ctx, TypeUser, "user "+id, fmt.Errorf("factors: %w", err)); err != nil {
				return err
			}
			continue
		}
		attrs, err := userAttributes(u, factors, roles[id])
		if err != nil {
			if err := r.fail(ctx, TypeUser, "user "+id, err); err != nil {
				return err
			}
			continue
		}
		r.add(TypeUser, id, attrs["login"].(string), attrs)
	}
	return nil
}

// listUsers reads every page of users, following the Link header.
func (r *run) listUsers(ctx context.Context) ([]sdk.User, error) {
	users, resp, err := r.api.UserAPI.ListUsers(ctx).Limit(pageSize).Execute()
	if err != nil {
		return nil, explain(err, resp)
	}
	for resp.HasNextPage() {
		var page []sdk.User
		next, err := resp.Next(&page)
		if err != nil {
			return nil, explain(err, next)
		}
		users = append(users, page...)
		resp = next
	}
	return users, nil
}

// userAttributes flattens a user into the okta.user schema.
func userAttributes(u sdk.User, factors []map[string]any, roles []string) (map[string]any, error) {
	p := u.GetProfile()
	login := p.GetLogin()
	if login == "" {
		return nil, errors.New("the user has no login")
	}
	email := p.GetEmail()
	if email == "" {
		email = login
	}
	created := u.GetCreated()
	if created.IsZero() {
		return nil, errors.New("the user has no creation time")
	}
	if roles == nil {
		roles = []string{}
	}
	attrs := map[string]any{
		"login":       login,
		"email":       email,
		"status":      u.GetStatus(),
		"created_at":  created.UTC(),
		"factors":     factors,
		"admin_roles": roles,
	}
	optionalTime(attrs, "activated_at", u.Activated.Get())
	optionalTime(attrs, "last_login", u.LastLogin.Get())
	optionalTime(attrs, "password_changed_at", u.PasswordChanged.Get())
	return attrs, nil
}

func optionalTime(attrs map[string]any, name string, t *time.Time) {
	if t != nil && !t.IsZero() {
		attrs[name] = t.UTC()
	}
}

// factor is the part of an enrolled factor the schema keeps.
type factor struct {
	FactorType string `json:"factorType"`
	Provider   string `json:"provider"`
	Status     string `json:"status"`
}

// factors lists a user's enrolled factors. The SDK sends the request; the answer is read
// from the body because the SDK's factor model silently drops the types it does not know,
// Okta FastPass (signed_nonce) among them.
func (r *run) factors(ctx context.Context, userID string) ([]map[string]any, error) {
	_, resp, err := r.api.UserFactorAPI.ListFactors(ctx, userID).Execute()
	if resp == nil || resp.Response == nil || resp.StatusCode >= 300 {
		if err == nil {
			err = errors.New("no response")
		}
		return nil, explain(err, resp)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var list []factor
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("decode factors: %w", err)
	}
	out := make([]map[string]any, 0, len(list))
	for _, f := range list {
		out = append(out, map[string]any{"type": f.FactorType, "provider": f.Provider, "status": f.Status})
	}
	return out, nil
}

// adminRoles maps the ID of every user holding an administrator role to the roles' names.
// It lists the users with role assignments, then each one's roles, instead of asking every
// user.
func (r *run) adminRoles(ctx context.Context) (map[string][]string, error) {
	var ids []string
	after := ""
	for {
		req := r.api.RoleAssignmentAPI.ListUsersWithRoleAssignments(ctx).Limit(100)
		if after != "" {
			req = req.After(after)
		}
		page, resp, err := req.Execute()
		if err != nil {
			return nil, explain(err, resp)
		}
		for _, u := range page.Value {
			if id := u.GetId(); id != "" {
				ids = append(ids, id)
			}
		}
		// This report pages with a link in the body, not in the Link header.
		after = ""
		if page.Links != nil && page.Links.Next != nil {
			if next, err := url.Parse(page.Links.Next.Href); err == nil {
				after = next.Query().Get("after")
			}
		}
		if after == "" {
			break
		}
	}
	out := make(map[string][]string, len(ids))
	for _, id := range ids {
		roles, resp, err := r.api.RoleAssignmentAPI.ListAssignedRolesForUser(ctx, id).Execute()
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", id, explain(err, resp))
		}
		for resp.HasNextPage() {
			var page []sdk.Role
			next, err := resp.Next(&page)
			if err != nil {
				return nil, fmt.Errorf("user %s: %w", id, explain(err, next))
			}
			roles = append(roles, page...)
			resp = next
		}
		seen := map[string]bool{}
		for _, role := range roles {
			if role.GetStatus() == "INACTIVE" {
				continue
			}
			name := role.GetType()
			if name == "CUSTOM" && role.GetLabel() != "" {
				// Custom roles share one type; their label says which role it is.
				name = role.GetLabel()
			}
			if name != "" && !seen[name] {
				seen[name] = true
				out[id] = append(out[id], name)
			}
		}
		sort.Strings(out[id])
	}
	return out, nil
}
