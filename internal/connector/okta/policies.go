package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	sdk "github.com/okta/okta-sdk-golang/v5/okta"
)

// The policy kinds collected.
const (
	kindSignOn   = "OKTA_SIGN_ON"
	kindAccess   = "ACCESS_POLICY"
	kindPassword = "PASSWORD"
)

// collectPolicies reports the global session (sign-on), authentication (access) and
// password policies with the settings of their active rules.
func (r *run) collectPolicies(ctx context.Context) error {
	for _, kind := range []string{kindSignOn, kindAccess, kindPassword} {
		policies, err := r.listPolicies(ctx, kind)
		if err != nil {
			if kind == kindAccess && statusOf(err) == http.StatusBadRequest {
				// Okta Classic Engine has no access policies and refuses the type.
				continue
			}
			if err := r.fail(ctx, TypePolicy, "list "+kind+" policies", err); err != nil {
				return err
			}
			continue
		}
		for _, p := range policies {
			if err := r.addPolicy(ctx, kind, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *run) listPolicies(ctx context.Context, kind string) ([]sdk.ListPolicies200ResponseInner, error) {
	policies, resp, err := r.api.PolicyAPI.ListPolicies(ctx).Type_(kind).Execute()
	if err != nil {
		return nil, explain(err, resp)
	}
	for resp.HasNextPage() {
		var page []sdk.ListPolicies200ResponseInner
		next, err := resp.Next(&page)
		if err != nil {
			return nil, explain(err, next)
		}
		policies = append(policies, page...)
		resp = next
	}
	return policies, nil
}

func (r *run) listRules(ctx context.Context, policyID string) ([]sdk.ListPolicyRules200ResponseInner, error) {
	rules, resp, err := r.api.PolicyAPI.ListPolicyRules(ctx, policyID).Execute()
	if err != nil {
		return nil, explain(err, resp)
	}
	for resp.HasNextPage() {
		var page []sdk.ListPolicyRules200ResponseInner
		next, err := resp.Next(&page)
		if err != nil {
			return nil, explain(err, next)
		}
		rules = append(rules, page...)
		resp = next
	}
	return rules, nil
}

// addPolicy reports one policy, reading its rules when its kind keeps settings there.
func (r *run) addPolicy(ctx context.Context, kind string, p sdk.ListPolicies200ResponseInner) error {
	var base *sdk.Policy
	switch {
	case kind == kindSignOn && p.OktaSignOnPolicy != nil:
		base = &p.OktaSignOnPolicy.Policy
	case kind == kindAccess && p.AccessPolicy != nil:
		base = &p.AccessPolicy.Policy
	case kind == kindPassword && p.PasswordPolicy != nil:
		base = &p.PasswordPolicy.Policy
	default:
		return r.fail(ctx, TypePolicy, "list "+kind+" policies", errors.New("the list holds a policy of another type"))
	}
	id := base.GetId()
	attrs := map[string]any{
		"kind":     kind,
		"status":   base.GetStatus(),
		"priority": int64(base.GetPriority()),
		"system":   base.GetSystem(),
	}
	switch kind {
	case kindPassword:
		passwordSettings(attrs, p.PasswordPolicy)
	default:
		rules, err := r.listRules(ctx, id)
		if err != nil {
			return r.fail(ctx, TypePolicy, "policy "+id, fmt.Errorf("rules: %w", err))
		}
		if kind == kindSignOn {
			signOnSettings(attrs, rules)
		} else {
			accessSettings(attrs, rules)
		}
	}
	r.add(TypePolicy, id, base.GetName(), attrs)
	return nil
}

// signOnSettings reads a global session policy's active rules: whether each one denies
// access or requires a second factor, and the longest session and idle time they allow.
func signOnSettings(attrs map[string]any, rules []sdk.ListPolicyRules200ResponseInner) {
	mfa := true
	var lifetime, idle int64
	unlimited, allows := false, false
	for _, rule := range rules {
		sr := rule.OktaSignOnPolicyRule
		if sr == nil || sr.GetStatus() != "ACTIVE" {
			continue
		}
		actions := sr.GetActions()
		signon := actions.GetSignon()
		if signon.GetAccess() == "DENY" {
			continue
		}
		allows = true
		if !signon.GetRequireFactor() {
			mfa = false
		}
		session := signon.GetSession()
		if l := int64(session.GetMaxSessionLifetimeMinutes()); l == 0 {
			unlimited = true
		} else {
			lifetime = max(lifetime, l)
		}
		idle = max(idle, int64(session.GetMaxSessionIdleMinutes()))
	}
	attrs["mfa_required"] = mfa
	if allows {
		if unlimited {
			lifetime = 0
		}
		attrs["session_lifetime_minutes"] = lifetime
		attrs["session_idle_minutes"] = idle
	}
}

// accessSettings reads an authentication policy's active rules: each one must deny access
// or ask for two factors.
func accessSettings(attrs map[string]any, rules []sdk.ListPolicyRules200ResponseInner) {
	mfa := true
	for _, rule := range rules {
		ar := rule.AccessPolicyRule
		if ar == nil || ar.GetStatus() != "ACTIVE" {
			continue
		}
		actions := ar.GetActions()
		signOn := actions.GetAppSignOn()
		if signOn.GetAccess() == "DENY" {
			continue
		}
		method := signOn.GetVerificationMethod()
		if method.GetFactorMode() != "2FA" {
			mfa = false
		}
	}
	attrs["mfa_required"] = mfa
}

// passwordSettings reads a password policy's complexity, age and lockout settings.
func passwordSettings(attrs map[string]any, p *sdk.PasswordPolicy) {
	settings := p.GetSettings()
	pw := settings.GetPassword()
	complexity, age, lockout := pw.GetComplexity(), pw.GetAge(), pw.GetLockout()
	attrs["password_min_length"] = int64(complexity.GetMinLength())
	attrs["password_require_uppercase"] = complexity.GetMinUpperCase() > 0
	attrs["password_require_lowercase"] = complexity.GetMinLowerCase() > 0
	attrs["password_require_number"] = complexity.GetMinNumber() > 0
	attrs["password_require_symbol"] = complexity.GetMinSymbol() > 0
	attrs["password_max_age_days"] = int64(age.GetMaxAgeDays())
	attrs["password_history_count"] = int64(age.GetHistoryCount())
	attrs["lockout_attempts"] = int64(lockout.GetMaxAttempts())
}
