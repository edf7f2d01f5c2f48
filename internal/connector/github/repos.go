package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	gh "github.com/google/go-github/v75/github"
)

// collectRepositories reports every repository with its default branch's effective
// protection, the outside collaborators' access to it and its merged pull requests.
func (r *run) collectRepositories(ctx context.Context) error {
	collaborators, collabErr := r.listOutsideCollaborators(ctx)
	if collabErr != nil {
		if err := r.fail(ctx, TypeOutsideCollaborator, "list outside collaborators", collabErr); err != nil {
			return err
		}
	}
	repos, err := r.listRepositories(ctx)
	if err != nil {
		types := []string{TypeRepository, TypePullRequest}
		if collabErr == nil {
			// Without repositories, nobody's access is known.
			types = append(types, TypeOutsideCollaborator)
		}
		for _, typ := range types {
			if err := r.fail(ctx, typ, "list repositories", err); err != nil {
				return err
			}
		}
		return nil
	}
	wantOutside := collabErr == nil && len(collaborators) > 0
	for _, repo := range repos {
		if err := r.collectRepository(ctx, repo, wantOutside); err != nil {
			return err
		}
	}
	if collabErr == nil {
		r.addOutsideCollaborators(collaborators)
	}
	return nil
}

// listRepositories lists the organization's repositories, keeping the configured ones when
// the connection names some.
func (r *run) listRepositories(ctx context.Context) ([]*gh.Repository, error) {
	opts := &gh.RepositoryListByOrgOptions{Type: "all", Sort: "full_name", Direction: "asc"}
	repos, err := list(&opts.ListOptions, func() ([]*gh.Repository, *gh.Response, error) {
		return r.gh.Repositories.ListByOrg(ctx, r.cfg.Organization, opts)
	})
	if err != nil || len(r.cfg.Repositories) == 0 {
		return repos, err
	}
	want := map[string]bool{}
	for _, name := range r.cfg.Repositories {
		want[strings.ToLower(name)] = true
	}
	var kept []*gh.Repository
	for _, repo := range repos {
		name := strings.ToLower(repo.GetName())
		if want[name] {
			kept = append(kept, repo)
			delete(want, name)
		}
	}
	for _, name := range r.cfg.Repositories {
		if want[strings.ToLower(name)] {
			r.out.Fail(TypeRepository, fmt.Errorf("repository %s/%s: not found, or the token cannot see it", r.cfg.Organization, name))
		}
	}
	return kept, nil
}

// collectRepository reads one repository. A repository whose protection cannot be read is
// left out and reported, rather than reported unprotected.
func (r *run) collectRepository(ctx context.Context, repo *gh.Repository, wantOutside bool) error {
	owner, name, full := repo.GetOwner().GetLogin(), repo.GetName(), repo.GetFullName()
	if owner == "" {
		owner = r.cfg.Organization
	}
	if full == "" {
		full = owner + "/" + name
	}
	branch := repo.GetDefaultBranch()
	if attrs, err := r.repository(ctx, repo, owner, name, branch); err != nil {
		if err := r.fail(ctx, TypeRepository, full, err); err != nil {
			return err
		}
	} else {
		r.add(TypeRepository, full, full, attrs)
	}
	if wantOutside {
		if err := r.collectOutsideAccess(ctx, owner, name, full); err != nil {
			if err := r.fail(ctx, TypeOutsideCollaborator, full, err); err != nil {
				return err
			}
		}
	}
	if err := r.collectPullRequests(ctx, owner, name, full, branch); err != nil {
		if err := r.fail(ctx, TypePullRequest, full, err); err != nil {
			return err
		}
	}
	return nil
}

// repository returns a repository's attributes, reading its protection, rulesets and
// Dependabot alert setting.
func (r *run) repository(ctx context.Context, repo *gh.Repository, owner, name, branch string) (map[string]any, error) {
	var classic *gh.Protection
	if branch != "" {
		p, _, err := r.gh.Repositories.GetBranchProtection(ctx, owner, name, branch)
		switch {
		case err == nil:
			classic = p
		case errors.Is(err, gh.ErrBranchNotProtected), unprotectable(err):
		default:
			return nil, fmt.Errorf("branch protection of %s: %w", branch, err)
		}
	}
	rulesets, err := r.repoRulesets(ctx, owner, name)
	if err != nil {
		return nil, fmt.Errorf("rulesets: %w", err)
	}
	alerts, _, err := r.gh.Repositories.GetVulnerabilityAlerts(ctx, owner, name)
	if err != nil {
		return nil, fmt.Errorf("dependabot alerts: %w", err)
	}
	protection, sets := effectiveProtection(classic, rulesets, branch)

	visibility := repo.GetVisibility()
	if visibility == "" {
		visibility = "public"
		if repo.GetPrivate() {
			visibility = "private"
		}
	}
	topics := repo.Topics
	if topics == nil {
		topics = []string{}
	}
	attrs := map[string]any{
		"org":            r.cfg.Organization,
		"private":        repo.GetPrivate(),
		"visibility":     visibility,
		"archived":       repo.GetArchived(),
		"fork":           repo.GetFork(),
		"default_branch": branch,
		"protection":     protection,
		"rulesets":       sets,
		// GitHub shows security_and_analysis to administrators only; without it, secret
		// scanning cannot be shown to be on.
		"secret_scanning_enabled":   repo.GetSecurityAndAnalysis().GetSecretScanning().GetStatus() == "enabled",
		"dependabot_alerts_enabled": alerts,
		"topics":                    topics,
	}
	if t := repo.GetPushedAt(); !t.IsZero() {
		attrs["pushed_at"] = t.UTC()
	}
	return attrs, nil
}

// unprotectable reports the answers that mean the default branch has no classic protection:
// the branch does not exist yet (an empty repository), or the plan does not offer
// protection for private repositories.
func unprotectable(err error) bool {
	status, msg := statusOf(err)
	switch {
	case status == http.StatusNotFound && msg == "Branch not found":
		return true
	case status == http.StatusForbidden && strings.HasPrefix(msg, "Upgrade to GitHub Pro"):
		return true
	}
	return false
}

// repoRulesets returns the rulesets that apply to a repository, its own and those of the
// organization and enterprise, each with its conditions, rules and bypass actors. A server
// without the rulesets API has none.
func (r *run) repoRulesets(ctx context.Context, owner, name string) ([]*gh.RepositoryRuleset, error) {
	opts := &gh.RepositoryListRulesetsOptions{IncludesParents: gh.Ptr(true)}
	summaries, err := list(&opts.ListOptions, func() ([]*gh.RepositoryRuleset, *gh.Response, error) {
		return r.gh.Repositories.GetAllRulesets(ctx, owner, name, opts)
	})
	if err != nil {
		if status, _ := statusOf(err); status == http.StatusNotFound || unprotectable(err) {
			return nil, nil
		}
		return nil, err
	}
	out := make([]*gh.RepositoryRuleset, 0, len(summaries))
	for _, s := range summaries {
		id := s.GetID()
		if cached, ok := r.rulesets[id]; ok {
			out = append(out, cached)
			continue
		}
		rs, _, err := r.gh.Repositories.GetRuleset(ctx, owner, name, id, true)
		if err != nil {
			return nil, fmt.Errorf("ruleset %q: %w", s.Name, err)
		}
		if st := rs.GetSourceType(); st != nil && *st != gh.RulesetSourceTypeRepository {
			r.rulesets[id] = rs
		}
		out = append(out, rs)
	}
	return out, nil
}

// effectiveProtection combines classic branch protection and the active rulesets that
// target the default branch, keeping the stricter of the two for each setting, and lists
// every ruleset.
func effectiveProtection(classic *gh.Protection, rulesets []*gh.RepositoryRuleset, branch string) (map[string]any, []map[string]any) {
	var (
		enabled, dismissStale, codeOwners, enforceAdmins, signatures bool
		reviews                                                      int
		allowForce, allowDeletions                                   = true, true
		checks                                                       = map[string]bool{}
	)
	if classic != nil {
		enabled = true
		if pr := classic.RequiredPullRequestReviews; pr != nil {
			reviews = pr.RequiredApprovingReviewCount
			dismissStale = pr.DismissStaleReviews
			codeOwners = pr.RequireCodeOwnerReviews
		}
		enforceAdmins = classic.EnforceAdmins != nil && classic.EnforceAdmins.Enabled
		allowForce = classic.AllowForcePushes != nil && classic.AllowForcePushes.Enabled
		allowDeletions = classic.AllowDeletions != nil && classic.AllowDeletions.Enabled
		signatures = classic.RequiredSignatures.GetEnabled()
		if sc := classic.RequiredStatusChecks; sc != nil {
			if sc.Contexts != nil {
				for _, c := range *sc.Contexts {
					checks[c] = true
				}
			}
			if sc.Checks != nil {
				for _, c := range *sc.Checks {
					checks[c.Context] = true
				}
			}
		}
	}
	sets := make([]map[string]any, 0, len(rulesets))
	for _, rs := range rulesets {
		var target string
		if t := rs.GetTarget(); t != nil {
			target = string(*t)
		}
		includes := target == string(gh.RulesetTargetBranch) && includesBranch(rs.GetConditions(), branch)
		sets = append(sets, map[string]any{
			"name":                    rs.Name,
			"enforcement":             string(rs.Enforcement),
			"target":                  target,
			"includes_default_branch": includes,
		})
		if !includes || rs.Enforcement != gh.RulesetEnforcementActive {
			continue
		}
		enabled = true
		if len(rs.BypassActors) == 0 {
			enforceAdmins = true
		}
		rules := rs.GetRules()
		if rules == nil {
			continue
		}
		if pr := rules.PullRequest; pr != nil {
			reviews = max(reviews, pr.RequiredApprovingReviewCount)
			dismissStale = dismissStale || pr.DismissStaleReviewsOnPush
			codeOwners = codeOwners || pr.RequireCodeOwnerReview
		}
		if rules.NonFastForward != nil {
			allowForce = false
		}
		if rules.Deletion != nil {
			allowDeletions = false
		}
		if rules.RequiredSignatures != nil {
			signatures = true
		}
		if sc := rules.RequiredStatusChecks; sc != nil {
			for _, c := range sc.RequiredStatusChecks {
				checks[c.Context] = true
			}
		}
	}
	required := make([]string, 0, len(checks))
	for c := range checks {
		required = append(required, c)
	}
	sort.Strings(required)
	return map[string]any{
		"enabled":                    enabled,
		"required_approving_reviews": int64(reviews),
		"dismiss_stale_reviews":      dismissStale,
		"require_code_owner_reviews": codeOwners,
		"enforce_admins":             enforceAdmins,
		"allow_force_pushes":         allowForce,
		"allow_deletions":            allowDeletions,
		"required_status_checks":     required,
		"required_signatures":        signatures,
	}, sets
}

// includesBranch reports whether a ruleset's ref conditions select the default branch.
func includesBranch(cond *gh.RepositoryRulesetConditions, branch string) bool {
	if cond == nil || cond.RefName == nil || branch == "" {
		return false
	}
	matches := func(patterns []string) bool {
		for _, p := range patterns {
			if refMatches(p, branch) {
				return true
			}
		}
		return false
	}
	return matches(cond.RefName.Include) && !matches(cond.RefName.Exclude)
}

// refMatches reports whether a ruleset ref pattern selects the default branch. Patterns
// are ~ALL, ~DEFAULT_BRANCH or fnmatch patterns over full ref names (refs/heads/main,
// refs/heads/release/*).
func refMatches(pattern, branch string) bool {
	switch pattern {
	case "~ALL", "~DEFAULT_BRANCH":
		return true
	}
	if strings.HasPrefix(pattern, "refs/") {
		return globMatch(pattern, "refs/heads/"+branch)
	}
	return globMatch(pattern, branch)
}

// globMatch matches a name against an fnmatch pattern as GitHub's rulesets read it: * any
// run of characters but /, ** any run at all, ? one character but /, [set] one of a set.
func globMatch(pattern, name string) bool {
	if !strings.ContainsAny(pattern, "*?[") {
		return pattern == name
	}
	re, err := regexp.Compile(globRegexp(pattern))
	return err == nil && re.MatchString(name)
}

// globRegexp translates an fnmatch pattern into an anchored regular expression.
func globRegexp(pattern string) string {
	var b strings.Builder
	b.WriteString(`^`)
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				b.WriteString(`.*`)
				i++
			} else {
				b.WriteString(`[^/]*`)
			}
		case '?':
			b.WriteString(`[^/]`)
		case '[':
			end := strings.IndexByte(pattern[i+1:], ']')
			if end <= 0 {
				b.WriteString(`\[`)
				continue
			}
			set := pattern[i+1 : i+1+end]
			b.WriteString(`[`)
			if set[0] == '!' || set[0] == '^' {
				b.WriteString(`^`)
				set = set[1:]
			}
			for _, r := range set {
				if r == '\\' || r == '[' || r == ']' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
			b.WriteString(`]`)
			i += end + 1
		default:
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	b.WriteString(`$`)
	return b.String()
}

// collectOutsideAccess records which outside collaborators can access a repository, and how.
func (r *run) collectOutsideAccess(ctx context.Context, owner, name, full string) error {
	opts := &gh.ListCollaboratorsOptions{Affiliation: "outside"}
	users, err := list(&opts.ListOptions, func() ([]*gh.User, *gh.Response, error) {
		return r.gh.Repositories.ListCollaborators(ctx, owner, name, opts)
	})
	if err != nil {
		return fmt.Errorf("list outside collaborators: %w", err)
	}
	for _, u := range users {
		key := strings.ToLower(login(u))
		r.outside[key] = append(r.outside[key], map[string]any{
			"repository": full,
			"permission": permission(u),
		})
	}
	return nil
}
